-- 008_scale: indexes sized for a million-row day and a database holding
-- history (issue 14). Every statement's plan is checked by
-- tests/unit/t-sim-queryplan.c.

-- The refund sweep's candidates (PROCESSING and ABNORMAL, oldest first): a
-- partial index holds only the open refunds, so the sweep reads those and
-- not every refund of the merchant's history (the (mchid, state) index would
-- do when few are open, but the planner cannot know that and may scan).
CREATE INDEX ledger_refunds_open ON ledger_refunds (mchid, created_ts, out_refund_no)
	WHERE state IN ('PROCESSING', 'ABNORMAL');

-- Bill rows (a million a day, kept for years) carry only the indexes some
-- statement reads, and those hold only the rows it can ask for:
-- * (mchid, bill_date[, row_kind]): no statement reads them (a day's rows are
--   read by file_id, the primary key's prefix).
DROP INDEX bill_trades_date;
DROP INDEX bill_fundflows_date;
-- * the refund keys are looked up for REFUND rows only (a tenth of a day).
DROP INDEX bill_trades_orn;
CREATE INDEX bill_trades_orn ON bill_trades (mchid, out_refund_no) WHERE row_kind = 'REFUND';
DROP INDEX bill_trades_refund_id;
CREATE INDEX bill_trades_refund_id ON bill_trades (refund_id) WHERE row_kind = 'REFUND';
-- * fund-flow lines are looked up by business number only for the fee
--   lines (FEE_MISMATCH), one kind of line per index.
DROP INDEX bill_fundflows_biz;
CREATE INDEX bill_fundflows_fee_pay ON bill_fundflows (biz_no, mchid, amount, bill_date)
	WHERE biz_type = '扣除交易手续费';
CREATE INDEX bill_fundflows_fee_refund ON bill_fundflows (biz_no, mchid, amount, bill_date)
	WHERE biz_type = '退还交易手续费';
