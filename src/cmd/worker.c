/*
 * cmd_worker.c - `wxrecon worker`: claims the tasks of `run --enqueue` one at
 * a time (SPEC 10), runs each one's step with the step runner of `run`
 * (cmd/steprun.h) for its merchant, fenced by its lease generation and with
 * its lease renewed while the step runs, and marks it done or failed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "cmd/cmd.h"
#include "cmd/steprun.h"
#include "core/jobrun.h"
#include "core/tasks.h"

#define WORKER_LEASE_DEFAULT_S 300
#define WORKER_IDLE_MS         1000 /* between looks at an empty queue */

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

struct lease {
	struct ctx *ctx;
	const struct db_task *t;
	int64_t lease_s;
	int64_t renewed; /* when, real seconds */
	bool lost;
};

/* The step runner's tick: renews the lease at a third of its length. */
static void renew(void *arg)
{
	struct lease *l = arg;
	struct wxr_err err = WXR_ERR_INIT;
	int64_t now = clock_real_now();

	if (l->lost || now - l->renewed < (l->lease_s + 2) / 3)
		return;
	if (tasks_renew(l->ctx->db, l->t->id, l->t->lease_gen, now, l->lease_s, &err) == 0) {
		l->renewed = now;
	} else if (err.code == WXR_ELOCKED) {
		l->lost = true;
		log_warn("task %" PRId64 ": %s", l->t->id, err.msg);
	}
}

/* Swaps ctx->cfg for the config of t's merchant; *shared keeps the other. */
static int merchant_of(struct ctx *ctx, const struct db_task *t, struct config *shared,
                       struct wxr_err *err)
{
	struct config m;
	int r;

	if (ctx->cfg.n_merchants == 0) {
		if (strcmp(t->mchid, ctx->mchid) != 0)
			return err_set(err, WXR_ECONFIG, "no merchant with mchid %s in '%s'",
			               t->mchid, ctx->cfg.path ? ctx->cfg.path : "the config");
		return 0;
	}
	config_defaults(&m);
	m.apiv3_key_env = ctx->cfg.apiv3_key_env;
	r = config_load_merchant(&m, &ctx->cfg, t->mchid, err);
	if (r < 0) {
		config_release(&m);
		return r;
	}
	*shared = ctx->cfg;
	ctx->cfg = m;
	ctx->mchid = ctx->cfg.mchid ? ctx->cfg.mchid : "";
	return 1;
}

/* Runs one claimed task to its end; 0 unless the store failed under us. */
static int work(struct ctx *ctx, const struct db_task *t, int64_t lease_s, struct wxr_err *err)
{
	struct lease l = { .ctx = ctx, .t = t, .lease_s = lease_s, .renewed = clock_real_now() };
	struct step_task st = { .job = t->job, .step = t->step, .date = t->date };
	struct job_run_row run = { 0 };
	struct config shared;
	char env[64], at[CLOCK_RFC3339_LEN];
	int64_t t0 = clock_mono_ms();
	bool held = false;
	int swapped = 0;
	int r;

	snprintf(env, sizeof(env), "WXRECON_TASK=%" PRId64 ":%" PRId64, t->id, t->lease_gen);
	st.run_id = t->run_id;
	st.seq = t->id;
	st.task_env = env;
	st.tick = renew;
	st.tick_arg = &l;
	st.tick_ms = 250;
	r = jobrun_get(ctx->db, t->run_id, &run, err);
	if (r == 0) {
		st.from = run.from;
		st.to = run.to;
		swapped = r = merchant_of(ctx, t, &shared, err);
	}
	if (r >= 0) {
		ctx->run_id = t->run_id;
		r = cmd_step_run(ctx, &st, err);
	}
	if (swapped > 0) {
		config_release(&ctx->cfg);
		ctx->cfg = shared;
		ctx->mchid = ctx->cfg.mchid ? ctx->cfg.mchid : "";
	}
	jobrun_release(&run);
	if (r < 0) {
		/* the step could not be run: that is the task's failure */
		st.state = "failed";
		st.reason = xstrdup(err->msg);
		err->msg[0] = '\0';
	}
	time_format_rfc3339(clock_real_now(), 0, at);
	if (strcmp(st.state, "ok") == 0 || strcmp(st.state, "attention") == 0)
		r = tasks_done(ctx->db, t->id, t->lease_gen, at, err);
	else
		r = tasks_fail(ctx->db, t, clock_real_now(), lease_s,
		               st.reason ? st.reason : "failed", &held, err);
	if (r == WXR_ELOCKED) {
		log_warn("task %" PRId64 " (%s): another worker took it over; its result is "
		         "that worker's: %s",
		         t->id, t->key, err->msg);
		printf("task %" PRId64 " %s: lost\n", t->id, t->key);
		r = 0;
	} else if (r == 0) {
		printf("task %" PRId64 " %s: %s%s (%.1fs)\n", t->id, t->key,
		       strcmp(st.state, "ok") == 0 || strcmp(st.state, "attention") == 0 ? st.state
		                                                                         : "failed",
		       held ? ", held for a person (wxrecon tasks retry)" : "",
		       (double)(clock_mono_ms() - t0) / 1000.0);
		if (st.reason && strcmp(st.state, "ok") != 0)
			log_warn("task %" PRId64 " (%s): %s", t->id, t->key, st.reason);
	}
	fflush(stdout);
	free(st.reason);
	return r;
}

static void idle(void)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = WORKER_IDLE_MS * 1000000L };

	nanosleep(&ts, NULL); /* a signal ends it early */
}

static int run_worker(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		{ "once", no_argument, NULL, '1' },
		{ "max-tasks", required_argument, NULL, 'n' },
		{ "lease", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 },
	};
	struct sigaction sa;
	bool once = false;
	int64_t max_tasks = 0, done = 0;
	int64_t lease_s = WORKER_LEASE_DEFAULT_S;
	const char **mchids;
	size_t n = 0;
	char owner[320], host[256] = "";
	int c;
	int r = 0;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case '1':
			once = true;
			break;
		case 'n':
			if (cmd_parse_id(optarg, &max_tasks) < 0)
				return cmd_usage_error(ctx, err, "--max-tasks: bad count '%s'",
				                       optarg);
			break;
		case 'l':
			if (duration_parse(optarg, &lease_s, err) < 0 || lease_s <= 0)
				return cmd_usage_error(
				        ctx, err, "--lease: bad duration '%s' (want like 30s, 5m)",
				        optarg);
			break;
		default:
			r = cmd_option(ctx, NULL, c, argv, err);
			if (r < 0)
				return r;
		}
	}
	if (optind < argc)
		return cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[optind]);
	gethostname(host, sizeof(host) - 1);
	snprintf(owner, sizeof(owner), "%s:%ld", host, (long)getpid());
	n = cmd_merchant_mchids(ctx, true, &mchids);
	/* SIGTERM, SIGINT: finish the task in hand, then stop */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!stopping && (!max_tasks || done < max_tasks)) {
		struct db_task t = { 0 };

		r = tasks_claim(ctx->db, owner, clock_real_now(), lease_s, mchids, n, &t, err);
		if (r < 0)
			break;
		if (r == 0) {
			if (once) {
				printf("no task is ready\n");
				break;
			}
			idle();
			continue;
		}
		if (t.taken_over)
			log_warn("task %" PRId64 " (%s): its lease had lapsed; taken over", t.id,
			         t.key);
		r = work(ctx, &t, lease_s, err);
		tasks_release(&t);
		if (r < 0)
			break;
		done++;
		if (once)
			break;
	}
	free(mchids);
	return r < 0 ? r : 0;
}

static const char worker_help[] =
        "Claims the ready tasks of 'run JOB --enqueue' one at a time, of the merchants of\n"
        "--merchant (repeatable; default every configured one), and runs each one's step\n"
        "as 'run' does, recorded as a step of the task's run ('wxrecon runs'). It holds a\n"
        "lease on the task (--lease DUR, default 5m) that it renews while the step runs;\n"
        "a task whose worker died is taken over by another once its lease lapses, and a\n"
        "worker that lost its lease (stopped past it) commits nothing: its step's writes\n"
        "are fenced by the lease's generation. A step that ends ok or attention marks the\n"
        "task done and readies the tasks after it; a failed one is tried again after a\n"
        "backoff (the lease, doubled per attempt, at most 1h), and after 3 tries is held\n"
        "for a person (wxrecon tasks, tasks retry ID). --once: one task, then exit (0 too\n"
        "when none is ready, saying so); --max-tasks N: at most N. SIGTERM or SIGINT:\n"
        "finishes the task in hand and exits 0. Several workers, on one machine or many,\n"
        "share one store.\n";

const struct cmd cmd_worker = {
	.name = "worker",
	.run = run_worker,
	.flags = CMD_DB | CMD_MERCHANTS,
	.usage = "worker [--once] [--max-tasks N] [--lease DUR] [--merchant M]...",
	.summary = "do the queued tasks (run --enqueue) under a lease, until stopped",
	.help = worker_help,
};
