-- 005_reconcile: what reconcile needs beyond 001-003 (SPEC 6, 8).
-- The history of every discrepancy, one row per reconcile of a date, the
-- indexes the fall-back matches use, and per-day bill totals for reports.

-- Every change of a discrepancy: opened, reopened, changed (amounts or
-- states), resolved (went away, or by a person), auto_resolved. prev_*
-- hold the values before a 'changed'. run_id is NULL for a person's resolve.
CREATE TABLE discrepancy_events (
	id                 INTEGER PRIMARY KEY,
	discrepancy_id     INTEGER NOT NULL REFERENCES discrepancies (id),
	mchid              TEXT    NOT NULL DEFAULT '',
	date               TEXT    NOT NULL,
	kind               TEXT    NOT NULL,
	key                TEXT    NOT NULL,
	run_id             INTEGER,
	event              TEXT    NOT NULL
	                   CHECK (event IN ('opened','reopened','changed','resolved','auto_resolved')),
	status             TEXT    NOT NULL CHECK (status IN ('open','resolved','auto_resolved')),
	ledger_amount      INTEGER,
	bill_amount        INTEGER,
	ledger_state       TEXT,
	bill_state         TEXT,
	prev_ledger_amount INTEGER,
	prev_bill_amount   INTEGER,
	prev_ledger_state  TEXT,
	prev_bill_state    TEXT,
	actor              TEXT    NOT NULL,
	note               TEXT,
	at                 TEXT    NOT NULL
);
CREATE INDEX discrepancy_events_disc ON discrepancy_events (discrepancy_id);
CREATE INDEX discrepancy_events_day ON discrepancy_events (mchid, date);

-- One row per reconcile of a date within a run. last_event_id is the
-- newest discrepancy_events id when that date's work committed: "what
-- changed since run N" is every event after the largest of them.
CREATE TABLE recon_runs (
	mchid         TEXT    NOT NULL DEFAULT '',
	date          TEXT    NOT NULL,
	run_id        INTEGER NOT NULL,
	at            TEXT    NOT NULL,
	trade_bill    TEXT    NOT NULL CHECK (trade_bill IN ('ok','empty','missing')),
	fundflow_bill TEXT    NOT NULL CHECK (fundflow_bill IN ('ok','empty','missing')),
	opened        INTEGER NOT NULL DEFAULT 0,
	reopened      INTEGER NOT NULL DEFAULT 0,
	changed       INTEGER NOT NULL DEFAULT 0,
	resolved      INTEGER NOT NULL DEFAULT 0,
	auto_resolved INTEGER NOT NULL DEFAULT 0,
	pending       INTEGER NOT NULL DEFAULT 0,
	open_total    INTEGER NOT NULL DEFAULT 0,
	last_event_id INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (mchid, date, run_id)
);
CREATE INDEX recon_runs_run ON recon_runs (run_id);

-- Fall-back matches by WeChat Pay's refund id (ledger <-> bill, fee lines).
CREATE INDEX ledger_refunds_refund_id ON ledger_refunds (refund_id);
CREATE INDEX bill_trades_refund_id ON bill_trades (refund_id);

-- Covering versions of four indexes of 001/002 (same leading columns, so
-- every query that used the old one can use the new one): reconcile probes
-- them once per row of a day and the extra columns spare it a table lookup
-- each time (about 40% of those statements' time at 1M rows a day).
DROP INDEX bill_trades_otn;
CREATE INDEX bill_trades_otn ON bill_trades (mchid, out_trade_no, row_kind, bill_date);
DROP INDEX bill_trades_txn;
CREATE INDEX bill_trades_txn ON bill_trades (transaction_id, row_kind, bill_date, mchid);
DROP INDEX bill_fundflows_biz;
CREATE INDEX bill_fundflows_biz ON bill_fundflows (biz_no, biz_type, mchid, amount, bill_date);
DROP INDEX ledger_orders_paid_date;
CREATE INDEX ledger_orders_paid_date
	ON ledger_orders (mchid, paid_date, state, out_trade_no, transaction_id, amount_total);
-- Listing and counting a date's actions.
CREATE INDEX actions_date ON actions (mchid, date);

-- Per-day totals of the stored trade bills (SPEC 8): payments are SUCCESS
-- rows (count, sum of settlement_amount = 应结订单金额), refunds are REFUND
-- rows (count, sum of refund_amount = 退款金额), fees the sum of every row's
-- fee in 0.00001 yuan. Days with no bill_files row are 'missing' and are
-- not in the view (recon_day_totals() reports them).
CREATE VIEW recon_day_totals_v AS
SELECT f.mchid AS mchid,
       f.bill_date AS date,
       f.status AS bill,
       COALESCE(SUM(CASE WHEN t.row_kind = 'SUCCESS' THEN 1 ELSE 0 END), 0) AS payments_count,
       COALESCE(SUM(CASE WHEN t.row_kind = 'SUCCESS' THEN t.settlement_amount ELSE 0 END), 0)
           AS payments_amount,
       COALESCE(SUM(CASE WHEN t.row_kind = 'REFUND' THEN 1 ELSE 0 END), 0) AS refunds_count,
       COALESCE(SUM(CASE WHEN t.row_kind = 'REFUND' THEN t.refund_amount ELSE 0 END), 0)
           AS refunds_amount,
       COALESCE(SUM(t.fee), 0) AS fees
FROM bill_files f
LEFT JOIN bill_trades t ON t.file_id = f.id
WHERE f.kind = 'trade'
GROUP BY f.id, f.mchid, f.bill_date, f.status;
