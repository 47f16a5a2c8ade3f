/*
 * steprun.h - one step of a job run by the step runner of `wxrecon run`
 * (cmd/run.c) for a worker's task: a child process of this binary, with the
 * task's fence in its environment, recorded as a job_steps row of the run.
 */
#ifndef WXR_CMD_STEPRUN_H
#define WXR_CMD_STEPRUN_H

#include <stdint.h>

#include "cmd/cmd.h"

struct step_task {
	const char *job, *step;
	const char *date;        /* the day of a day's step; NULL for a step over from..to */
	const char *from, *to;   /* the run's range */
	int64_t run_id, seq;     /* the job_steps row: its run and place */
	const char *task_env;    /* "WXRECON_TASK=ID:GEN" for the child */
	void (*tick)(void *arg); /* called every tick_ms while the child runs */
	void *tick_arg;
	int tick_ms;
	/* the result: the step's state (static), exit code, and reason (owned, may be NULL) */
	const char *state;
	int exit_code;
	char *reason;
};

/* Prints a step's reason (one or more lines) indented under its row of the steps table
 * (`run`, `runs`). */
void cmd_print_reason(const char *reason);

/* Runs t's step for ctx's merchant and records it; 0 with t's result set. */
int cmd_step_run(struct ctx *ctx, struct step_task *t, struct wxr_err *err);

#endif
