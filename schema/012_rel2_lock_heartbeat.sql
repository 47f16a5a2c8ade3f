-- The run lock's holder, so that a lock is never stuck for good (issue 20 item 9):
-- heartbeat_ts is refreshed by the holder while it runs (unix seconds, the real
-- clock); stale_s is how long a holder that cannot be checked from the host that
-- finds the lock may go without a heartbeat before the lock is taken over.
-- boot_id (the kernel's boot), pid_ns (the PID namespace) and pid_start (the
-- process's start time in clock ticks since boot) say which process pid was, so a
-- PID reused after a reboot or by another process is not taken for the holder, and
-- a holder in another container (another PID namespace) is known not to be
-- checkable. NULL in a lock taken by an older wxrecon.
ALTER TABLE locks ADD COLUMN heartbeat_ts INTEGER;
ALTER TABLE locks ADD COLUMN stale_s INTEGER;
ALTER TABLE locks ADD COLUMN boot_id TEXT;
ALTER TABLE locks ADD COLUMN pid_ns TEXT;
ALTER TABLE locks ADD COLUMN pid_start INTEGER;
