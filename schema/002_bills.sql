-- 002_bills: the daily bills as WeChat Pay wrote them (SPEC 5).
-- Amounts: fen, except fee columns in 0.00001 yuan. Times: RFC 3339 +08:00.

CREATE TABLE bill_files (
	id           INTEGER PRIMARY KEY,
	mchid        TEXT    NOT NULL DEFAULT '',
	bill_date    TEXT    NOT NULL,
	kind         TEXT    NOT NULL CHECK (kind IN ('trade','fundflow')),
	status       TEXT    NOT NULL CHECK (status IN ('ok','empty')),
	layout       TEXT,
	sha1         TEXT,
	bytes        INTEGER NOT NULL DEFAULT 0,
	rows         INTEGER NOT NULL DEFAULT 0,
	rejects      INTEGER NOT NULL DEFAULT 0,
	source       TEXT    NOT NULL CHECK (source IN ('api','import')),
	archive_path TEXT,
	fetched_at   TEXT    NOT NULL,
	UNIQUE (mchid, bill_date, kind)
);

CREATE TABLE bill_trades (
	file_id                INTEGER NOT NULL REFERENCES bill_files (id) ON DELETE CASCADE,
	line                   INTEGER NOT NULL,
	mchid                  TEXT    NOT NULL,
	bill_date              TEXT    NOT NULL,
	trade_time             TEXT    NOT NULL,
	appid                  TEXT,
	sub_mchid              TEXT,
	device_info            TEXT,
	transaction_id         TEXT    NOT NULL,
	out_trade_no           TEXT    NOT NULL,
	openid                 TEXT,
	trade_type             TEXT,
	row_kind               TEXT    NOT NULL,
	bank_type              TEXT,
	currency               TEXT,
	settlement_amount      INTEGER NOT NULL DEFAULT 0,
	coupon_amount          INTEGER NOT NULL DEFAULT 0,
	refund_id              TEXT,
	out_refund_no          TEXT,
	refund_amount          INTEGER NOT NULL DEFAULT 0,
	recharge_refund_amount INTEGER NOT NULL DEFAULT 0,
	refund_type            TEXT,
	refund_status          TEXT,
	description            TEXT,
	attach                 TEXT,
	fee                    INTEGER NOT NULL DEFAULT 0,
	rate                   TEXT,
	order_amount           INTEGER NOT NULL DEFAULT 0,
	refund_apply_amount    INTEGER NOT NULL DEFAULT 0,
	rate_note              TEXT,
	refund_apply_time      TEXT,
	refund_success_time    TEXT,
	PRIMARY KEY (file_id, line)
);
CREATE INDEX bill_trades_otn ON bill_trades (mchid, out_trade_no);
CREATE INDEX bill_trades_txn ON bill_trades (transaction_id);
CREATE INDEX bill_trades_orn ON bill_trades (mchid, out_refund_no);
CREATE INDEX bill_trades_date ON bill_trades (mchid, bill_date, row_kind);

CREATE TABLE bill_trade_summary (
	file_id                INTEGER PRIMARY KEY REFERENCES bill_files (id) ON DELETE CASCADE,
	total_count            INTEGER NOT NULL,
	settlement_total       INTEGER NOT NULL,
	refund_total           INTEGER NOT NULL,
	recharge_refund_total  INTEGER NOT NULL DEFAULT 0,
	fee_total              INTEGER NOT NULL,
	order_total            INTEGER NOT NULL DEFAULT 0,
	refund_apply_total     INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE bill_fundflows (
	file_id    INTEGER NOT NULL REFERENCES bill_files (id) ON DELETE CASCADE,
	line       INTEGER NOT NULL,
	mchid      TEXT    NOT NULL,
	bill_date  TEXT    NOT NULL,
	booked_at  TEXT    NOT NULL,
	biz_no     TEXT    NOT NULL,
	flow_no    TEXT    NOT NULL,
	biz_name   TEXT,
	biz_type   TEXT,
	direction  TEXT    NOT NULL CHECK (direction IN ('IN','OUT')),
	amount     INTEGER NOT NULL,
	balance    INTEGER NOT NULL,
	applicant  TEXT,
	remark     TEXT,
	voucher_no TEXT,
	PRIMARY KEY (file_id, line)
);
CREATE INDEX bill_fundflows_biz ON bill_fundflows (biz_no, biz_type);
CREATE INDEX bill_fundflows_date ON bill_fundflows (mchid, bill_date);

CREATE TABLE bill_fundflow_summary (
	file_id        INTEGER PRIMARY KEY REFERENCES bill_files (id) ON DELETE CASCADE,
	total_count    INTEGER NOT NULL,
	income_count   INTEGER NOT NULL,
	income_amount  INTEGER NOT NULL,
	expense_count  INTEGER NOT NULL,
	expense_amount INTEGER NOT NULL
);

CREATE TABLE bill_rejects (
	file_id INTEGER NOT NULL REFERENCES bill_files (id) ON DELETE CASCADE,
	line    INTEGER NOT NULL,
	raw     TEXT    NOT NULL,
	reason  TEXT    NOT NULL,
	PRIMARY KEY (file_id, line)
);
