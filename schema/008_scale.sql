-- 008_scale: indexes sized for a million-row day and a database holding
-- history (issue 14). Every statement's plan is checked by
-- tests/unit/t-sim-queryplan.c.

-- The refund sweep's candidates (PROCESSING and ABNORMAL, oldest first): a
-- partial index holds only the open refunds, so the sweep reads those and
-- not every refund of the merchant's history (the (mchid, state) index would
-- do when few are open, but the planner cannot know that and may scan).
CREATE INDEX ledger_refunds_open ON ledger_refunds (mchid, created_ts, out_refund_no)
	WHERE state IN ('PROCESSING', 'ABNORMAL');
