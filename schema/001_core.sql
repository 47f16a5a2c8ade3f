-- 001_core: the merchant's ledger, the audit log, actions and job runs.
-- Portable SQL: amounts are INTEGER fen (fees: INTEGER 0.00001 yuan); times
-- are kept twice, as the RFC 3339 text the user gave and as INTEGER Unix
-- seconds (*_ts) for comparisons; business dates are TEXT YYYY-MM-DD in the
-- configured timezone. Every business row carries its mchid (SPEC 10).

CREATE TABLE ledger_orders (
	mchid          TEXT    NOT NULL DEFAULT '',
	out_trade_no   TEXT    NOT NULL,
	transaction_id TEXT,
	amount_total   INTEGER NOT NULL CHECK (amount_total >= 0),
	currency       TEXT    NOT NULL DEFAULT 'CNY',
	state          TEXT    NOT NULL
	               CHECK (state IN ('NOTPAY','PAID','CLOSED','REFUNDED','PARTIAL_REFUNDED')),
	created_at     TEXT    NOT NULL,
	created_ts     INTEGER NOT NULL,
	time_expire    TEXT,
	expire_ts      INTEGER,
	paid_at        TEXT,
	paid_ts        INTEGER,
	paid_date      TEXT,
	attach         TEXT,
	business_ref   TEXT,
	updated_at     TEXT    NOT NULL,
	PRIMARY KEY (mchid, out_trade_no)
);
CREATE INDEX ledger_orders_paid_date ON ledger_orders (mchid, paid_date);
CREATE INDEX ledger_orders_state ON ledger_orders (mchid, state, created_ts);
CREATE INDEX ledger_orders_txn ON ledger_orders (transaction_id);
CREATE INDEX ledger_orders_bref ON ledger_orders (mchid, business_ref);

CREATE TABLE ledger_refunds (
	mchid          TEXT    NOT NULL DEFAULT '',
	out_refund_no  TEXT    NOT NULL,
	out_trade_no   TEXT    NOT NULL,
	refund_id      TEXT,
	amount_refund  INTEGER NOT NULL CHECK (amount_refund >= 0),
	state          TEXT    NOT NULL
	               CHECK (state IN ('PROCESSING','SUCCESS','CLOSED','ABNORMAL')),
	created_at     TEXT    NOT NULL,
	created_ts     INTEGER NOT NULL,
	created_date   TEXT    NOT NULL,
	success_at     TEXT,
	success_ts     INTEGER,
	updated_at     TEXT    NOT NULL,
	PRIMARY KEY (mchid, out_refund_no)
);
CREATE INDEX ledger_refunds_date ON ledger_refunds (mchid, created_date);
CREATE INDEX ledger_refunds_state ON ledger_refunds (mchid, state);
CREATE INDEX ledger_refunds_trade ON ledger_refunds (mchid, out_trade_no);

-- Append-only, hash-chained. hash = SHA-256 over the previous entry's hash
-- and this entry's fields (src/audit.c says exactly how).
CREATE TABLE audit_log (
	id        INTEGER PRIMARY KEY,
	at        TEXT    NOT NULL,
	run_id    INTEGER,
	actor     TEXT    NOT NULL,
	event     TEXT    NOT NULL,
	subject   TEXT,
	detail    TEXT    NOT NULL,
	prev_hash TEXT    NOT NULL,
	hash      TEXT    NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- Money-moving and fate-changing actions: written as an intent before the
-- call, completed after it (SPEC 7).
CREATE TABLE actions (
	id            INTEGER PRIMARY KEY,
	mchid         TEXT    NOT NULL DEFAULT '',
	kind          TEXT    NOT NULL
	              CHECK (kind IN ('ORDER_CLOSE','ORDER_MARK_PAID','REFUND_SYNC','ABNORMAL_REFUND','REFUND')),
	target        TEXT    NOT NULL,
	state         TEXT    NOT NULL
	              CHECK (state IN ('intent','sent','done','failed','pending_approval','cancelled')),
	amount        INTEGER,
	date          TEXT,
	params        TEXT,
	result        TEXT,
	error         TEXT,
	run_id        INTEGER,
	created_at    TEXT    NOT NULL,
	updated_at    TEXT    NOT NULL,
	approved_by   TEXT,
	approval_note TEXT,
	UNIQUE (mchid, kind, target)
);
CREATE INDEX actions_state ON actions (state);

CREATE TABLE job_runs (
	id           INTEGER PRIMARY KEY,
	mchid        TEXT    NOT NULL DEFAULT '',
	job          TEXT    NOT NULL,
	date_from    TEXT,
	date_to      TEXT,
	dry_run      INTEGER NOT NULL DEFAULT 0,
	state        TEXT    NOT NULL CHECK (state IN ('running','ok','attention','failed')),
	exit_code    INTEGER,
	pid          INTEGER,
	host         TEXT,
	resumed_from INTEGER REFERENCES job_runs (id),
	started_at   TEXT    NOT NULL,
	ended_at     TEXT,
	summary      TEXT
);

CREATE TABLE job_steps (
	id         INTEGER PRIMARY KEY,
	run_id     INTEGER NOT NULL REFERENCES job_runs (id),
	seq        INTEGER NOT NULL,
	step       TEXT    NOT NULL,
	date       TEXT,
	state      TEXT    NOT NULL
	           CHECK (state IN ('pending','running','ok','attention','failed','skipped')),
	exit_code  INTEGER,
	message    TEXT,
	started_at TEXT,
	ended_at   TEXT
);
CREATE INDEX job_steps_run ON job_steps (run_id, seq);

-- The run lock is a row per (mchid, name), not a file (SPEC 10).
CREATE TABLE locks (
	mchid       TEXT    NOT NULL DEFAULT '',
	name        TEXT    NOT NULL,
	run_id      INTEGER,
	pid         INTEGER NOT NULL,
	host        TEXT    NOT NULL,
	acquired_at TEXT    NOT NULL,
	PRIMARY KEY (mchid, name)
);

-- WeChat Pay platform certificates (platform-certificate mode), by serial.
CREATE TABLE platform_certs (
	serial_no      TEXT PRIMARY KEY,
	effective_time TEXT NOT NULL,
	expire_time    TEXT NOT NULL,
	pem            TEXT NOT NULL,
	fetched_at     TEXT NOT NULL
);
