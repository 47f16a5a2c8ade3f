-- 004_bills_extra: what the bill pipeline records beyond 002 (SPEC 5, 6).
-- summary_mismatch: NULL when the bill's summary line agrees with its stored
-- rows; else which totals differ, e.g. "总交易单数: summary 45, rows 44"
-- (reconcile raises BILL_SUMMARY_MISMATCH from it without re-parsing).
ALTER TABLE bill_files ADD COLUMN summary_mismatch TEXT;
