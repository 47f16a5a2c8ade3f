-- 009_rel_actions_sent (PostgreSQL twin of schema/009_rel_actions_sent.sql): BIGINT for INTEGER.
--
-- 009_rel_actions_sent: when an action was last moved to 'sent', by the real
-- clock (Unix seconds; NULL for rows sent before this migration). A re-run
-- right after a crash must not send again while the crashed process's call
-- may still be in flight at WeChat Pay (issue 20, item 2): the sweep leaves a
-- 'sent' action younger than the longest call (timeout and retries) plus a
-- margin for a later run.
ALTER TABLE actions ADD COLUMN sent_ts BIGINT ;
