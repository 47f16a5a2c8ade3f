-- 007_payflow (PostgreSQL twin of schema/007_payflow.sql): BIGINT for INTEGER.
--
-- 007_payflow: what the payment flow keeps beyond the ledger tables of 001
-- (`order create`, `refund create`, `notify serve`; SPEC 2, 4, 7, 8).
-- Amounts are BIGINT fen; *_at are RFC 3339 text, *_ts Unix seconds.

-- The parameters an order was placed with. A repeat prepay of the same
-- out_trade_no must send exactly these (PROTOCOL 4.1), so they are kept as
-- sent; the last prepay_id handed out is kept with its expiry (2 h).
CREATE TABLE payflow_orders (
	mchid             TEXT    NOT NULL DEFAULT '',
	out_trade_no      TEXT    NOT NULL,
	description       TEXT    NOT NULL,
	amount_total      BIGINT  NOT NULL CHECK (amount_total >= 1),
	time_expire       TEXT,             -- as sent; NULL: not sent (WeChat Pay's 7 days)
	attach            TEXT,
	notify_url        TEXT    NOT NULL,
	payable_until_ts  BIGINT  NOT NULL, -- time_expire, else created + 7 days
	prepay_id         TEXT,
	prepay_at         TEXT,
	prepay_expires_at TEXT,
	prepays           BIGINT  NOT NULL DEFAULT 0,
	last_error        TEXT,
	created_at        TEXT    NOT NULL,
	updated_at        TEXT    NOT NULL,
	PRIMARY KEY (mchid, out_trade_no)
);

-- A refund's request as first sent, so that a retry sends the same body.
CREATE TABLE payflow_refunds (
	mchid         TEXT    NOT NULL DEFAULT '',
	out_refund_no TEXT    NOT NULL,
	out_trade_no  TEXT    NOT NULL,
	amount_refund BIGINT  NOT NULL CHECK (amount_refund >= 1),
	amount_total  BIGINT  NOT NULL,
	reason        TEXT,
	notify_url    TEXT,
	created_at    TEXT    NOT NULL,
	PRIMARY KEY (mchid, out_refund_no)
);

-- Every notification that passed verification, once per id: a repeat is
-- acknowledged and counted, never applied twice. outcome: applied (the
-- ledger changed), unchanged (it already said so), held (a problem a person
-- must look at: amount mismatch, contradicting state; the ledger is left as
-- it was), unknown (no such order/refund in the ledger), ignored (an event
-- type wxrecon does not handle).
CREATE TABLE notifications (
	mchid          TEXT    NOT NULL DEFAULT '',
	id             TEXT    NOT NULL,
	event_type     TEXT    NOT NULL,
	create_time    TEXT,
	out_trade_no   TEXT,
	out_refund_no  TEXT,
	transaction_id TEXT,
	refund_id      TEXT,
	amount         BIGINT,
	state          TEXT,
	outcome        TEXT    NOT NULL
	               CHECK (outcome IN ('applied','unchanged','held','unknown','ignored')),
	reason         TEXT,
	received_at    TEXT    NOT NULL,
	received_ts    BIGINT  NOT NULL,
	repeats        BIGINT  NOT NULL DEFAULT 0,
	last_repeat_at TEXT,
	PRIMARY KEY (mchid, id)
);
CREATE INDEX notifications_trade ON notifications (mchid, out_trade_no);
CREATE INDEX notifications_refund ON notifications (mchid, out_refund_no);
CREATE INDEX notifications_outcome ON notifications (mchid, outcome, received_ts);
