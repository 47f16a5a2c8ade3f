-- 013_exceptions: the exception queue (issue 19). An open discrepancy has an
-- owner and a history of who owned it and what was said about it. Age,
-- severity and due dates are computed when read, from the clock and the
-- [policy] thresholds, never stored (they would go stale).

-- The current owner; NULL = nobody. Its history is discrepancy_assignments.
ALTER TABLE discrepancies ADD COLUMN assignee TEXT;
CREATE INDEX discrepancies_assignee ON discrepancies (assignee, status);

-- Every (re)assignment, oldest first: previous is the owner before, NULL
-- when there was none.
CREATE TABLE discrepancy_assignments (
	id             INTEGER PRIMARY KEY,
	discrepancy_id INTEGER NOT NULL REFERENCES discrepancies (id),
	at             TEXT    NOT NULL,
	who            TEXT    NOT NULL,
	assignee       TEXT    NOT NULL,
	previous       TEXT
);
CREATE INDEX discrepancy_assignments_disc ON discrepancy_assignments (discrepancy_id);

-- Comments, kept for good (append only, like the audit log they are also in).
CREATE TABLE discrepancy_comments (
	id             INTEGER PRIMARY KEY,
	discrepancy_id INTEGER NOT NULL REFERENCES discrepancies (id),
	at             TEXT    NOT NULL,
	who            TEXT    NOT NULL,
	note           TEXT    NOT NULL
);
CREATE INDEX discrepancy_comments_disc ON discrepancy_comments (discrepancy_id);
