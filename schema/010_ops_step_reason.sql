-- Why a job step failed, was skipped or needs a person, in one or a few
-- lines (the step's own error line and the warnings before it), shown by
-- `wxrecon runs` and in the run's summary. NULL for a clean step.
ALTER TABLE job_steps ADD COLUMN reason TEXT;
