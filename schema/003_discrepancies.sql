-- 003_discrepancies: findings of reconcile, stable across re-runs (SPEC 6).
-- (mchid, date, kind, key) identifies a finding; a re-run updates the row.

CREATE TABLE discrepancies (
	id              INTEGER PRIMARY KEY,
	mchid           TEXT    NOT NULL DEFAULT '',
	date            TEXT    NOT NULL,
	kind            TEXT    NOT NULL CHECK (kind IN (
	                  'MISSING_IN_LEDGER','MISSED_PAYMENT','MISSING_IN_BILL','AMOUNT_MISMATCH',
	                  'REFUND_MISSING_IN_LEDGER','REFUND_MISSING_IN_BILL','REFUND_AMOUNT_MISMATCH',
	                  'REFUND_STATUS_MISMATCH','DUPLICATE_PAYMENT','BILL_SUMMARY_MISMATCH',
	                  'BILL_MISSING','BALANCE_DISCONTINUITY','FEE_MISMATCH')),
	key             TEXT    NOT NULL,
	out_trade_no    TEXT,
	out_refund_no   TEXT,
	transaction_id  TEXT,
	ledger_amount   INTEGER,
	bill_amount     INTEGER,
	ledger_state    TEXT,
	bill_state      TEXT,
	detail          TEXT,
	status          TEXT    NOT NULL CHECK (status IN ('open','resolved','auto_resolved')),
	resolution      TEXT,
	resolved_by     TEXT,
	first_run_id    INTEGER,
	last_run_id     INTEGER,
	resolved_run_id INTEGER,
	created_at      TEXT    NOT NULL,
	updated_at      TEXT    NOT NULL,
	UNIQUE (mchid, date, kind, key)
);
CREATE INDEX discrepancies_status ON discrepancies (status, date);
