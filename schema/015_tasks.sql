-- 015_tasks: the work queue of many workers (issue 17, SPEC 10). `run JOB
-- --enqueue` writes one task per (merchant, date, step); `wxrecon worker`
-- claims ready ones under a lease. Times are Unix seconds of the wall clock
-- (leases are about real time, not the business clock).
--
-- state: blocked  waits for the tasks it comes after (pending > 0)
--        ready    may be claimed from not_before on
--        running  a worker holds the lease until lease_until; a lapsed lease
--                 may be taken over (the worker is presumed dead)
--        done     finished; the tasks after it count one fewer pending
--        held     failed max_attempts times: waits for a person (tasks retry)
CREATE TABLE tasks (
	id           INTEGER PRIMARY KEY,
	task_key     TEXT    NOT NULL UNIQUE,  -- mchid/job/date/step: enqueuing twice adds nothing
	run_id       BIGINT,                   -- the job_runs row of the enqueue
	mchid        TEXT    NOT NULL,
	job          TEXT    NOT NULL,
	step         TEXT    NOT NULL,
	date         TEXT,                     -- YYYY-MM-DD; NULL for a step over the range
	state        TEXT    NOT NULL
	             CHECK (state IN ('blocked', 'ready', 'running', 'done', 'held')),
	pending      BIGINT  NOT NULL DEFAULT 0, -- tasks before it not done yet
	attempts     BIGINT  NOT NULL DEFAULT 0, -- claims so far (a takeover counts)
	max_attempts BIGINT  NOT NULL,
	not_before   BIGINT  NOT NULL DEFAULT 0,
	-- The fencing token: raised by every claim. A worker commits its results
	-- only in a transaction that finds its own generation still there.
	lease_gen    BIGINT  NOT NULL DEFAULT 0,
	lease_owner  TEXT,
	lease_until  BIGINT, 
	last_error   TEXT,
	created_at   TEXT    NOT NULL,
	finished_at  TEXT
);
-- The claim: the oldest ready task, or the oldest lapsed lease.
CREATE INDEX tasks_claim ON tasks (state, not_before, id);
CREATE INDEX tasks_lease ON tasks (state, lease_until);
CREATE INDEX tasks_mchid ON tasks (mchid, state);

-- task_id runs after after_id (a day's reconcile after its fetch-bills, a
-- report after its days).
CREATE TABLE task_deps (
	task_id  BIGINT  NOT NULL REFERENCES tasks (id),
	after_id BIGINT  NOT NULL REFERENCES tasks (id),
	PRIMARY KEY (task_id, after_id)
);
CREATE INDEX task_deps_after ON task_deps (after_id);
