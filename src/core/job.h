/*
 * job.h - job files (jobs/NAME.job): a named sequence of steps with default
 * dates and step options. INI:
 *
 *   [job]
 *   description = ...
 *   steps = sweep-orders, sweep-refunds, fetch-bills, reconcile, report
 *   dates = yesterday            ; or none: the job needs no dates
 *
 *   [fetch-bills]                ; options of a step (all optional)
 *   kind = all                   ; trade | fundflow | all
 *   [sweep-orders]
 *   older_than = 30m
 *   limit = 500
 *   [report]
 *   formats = html, csv, json, xlsx
 */
#ifndef WXR_JOB_H
#define WXR_JOB_H

#include <stdbool.h>

#include "wxrecon.h"

enum step_kind {
	STEP_SWEEP_ORDERS,
	STEP_SWEEP_REFUNDS,
	STEP_FETCH_BILLS,
	STEP_RECONCILE,
	STEP_REPORT,
	STEP_KIND_COUNT
};

#define JOB_MAX_STEPS 16

struct job {
	char *name;        /* file name without .job; owned */
	char *path;        /* owned */
	char *description; /* owned, may be NULL */
	bool default_yesterday;
	enum step_kind steps[JOB_MAX_STEPS];
	int nsteps;
	/* step options; NULL/0 = the command's default */
	char *bill_kind;
	char *older_than;
	long sweep_orders_limit;
	long sweep_refunds_limit;
	char *report_formats; /* "html,csv,json,xlsx" */
};

/* The step's name as written in job files ("fetch-bills"). */
const char *step_name(enum step_kind k);
/* Steps that run once per day of the range (fetch-bills, reconcile). */
bool step_is_per_day(enum step_kind k);

/* Finds dir/NAME.job (or a path ending in .job) and parses it. */
int job_load(struct job *job, const char *dir, const char *name, struct wxr_err *err);
void job_release(struct job *job);

#endif
