-- PostgreSQL: as schema/014_prune.sql, BIGINT for INTEGER.
-- wxrecon prune --bills-older-than DUR (issue 14): a day's bill rows dropped past a
-- retention period, its bill_files row, summary, findings and archived .gz kept.
-- pruned_at (UTC RFC 3339) says the rows are gone: reconcile of that day says so
-- instead of reporting it clean, and `bill import --date D` restores them from the
-- archive (a new bill_files row, pruned_at NULL). The trade bill's report totals are
-- kept beside it, so that a report of a pruned day shows what the rows summed to:
-- SUCCESS rows and their 应结订单金额, REFUND rows and their 退款金额, 手续费 of
-- every row (0.00001 yuan). NULL in a file not pruned.
ALTER TABLE bill_files ADD COLUMN pruned_at TEXT;
ALTER TABLE bill_files ADD COLUMN pruned_pay_count BIGINT;
ALTER TABLE bill_files ADD COLUMN pruned_pay BIGINT;
ALTER TABLE bill_files ADD COLUMN pruned_refund_count BIGINT;
ALTER TABLE bill_files ADD COLUMN pruned_refund BIGINT;
ALTER TABLE bill_files ADD COLUMN pruned_fee BIGINT;
