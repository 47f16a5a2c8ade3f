-- 006_sweeps (PostgreSQL twin of schema/006_sweeps.sql): BIGINT for INTEGER.
--
-- 006_sweeps: what the sweeps and `approve` need beyond 001 (SPEC 7, 8).
-- attempts: how many times the action's call was sent (a resumed intent is
-- sent again with the same keys, PROTOCOL 4.12); note: why the engine held
-- or decided it, for people; approved_at: when `wxrecon approve` released it
-- (approved_by and approval_note are in 001).
ALTER TABLE actions ADD COLUMN attempts BIGINT  NOT NULL DEFAULT 0;
ALTER TABLE actions ADD COLUMN note TEXT;
ALTER TABLE actions ADD COLUMN approved_at TEXT;
-- The sweeps look up unfinished and held actions of one merchant.
CREATE INDEX actions_mchid_state ON actions (mchid, state, kind);
