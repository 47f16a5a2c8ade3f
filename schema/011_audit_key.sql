-- 011_audit_key: the keyed audit chain (issue 20 item 5). Entries from the
-- key's keyed_from on are HMAC-SHA256 under a key kept outside the database
-- ([audit] key_file, made by `wxrecon init`); the ones before verify as
-- before, unkeyed (src/db/audit.h says exactly how). Portable as written
-- (BIGINT, ALTER TABLE ADD COLUMN): both backends apply this file.
-- alg: 'sha256' (an entry of before the key) or 'hmac-sha256'.
ALTER TABLE audit_log ADD COLUMN alg TEXT NOT NULL DEFAULT 'sha256';
-- The head of each chain ('' today; one per merchant later, issue 17): how
-- many entries it has and the last one's hash, under a MAC of its own, so a
-- log cut short (or emptied) no longer matches it. Written with every keyed
-- entry, in its transaction.
CREATE TABLE audit_heads (
	chain   TEXT    PRIMARY KEY,
	entries BIGINT  NOT NULL,
	head    TEXT    NOT NULL,
	mac     TEXT    NOT NULL
);
-- Each run's checkpoint of that head when it ended (NULL before this).
ALTER TABLE job_runs ADD COLUMN audit_entries BIGINT;
ALTER TABLE job_runs ADD COLUMN audit_head TEXT;
ALTER TABLE job_runs ADD COLUMN audit_mac TEXT;
