/*
 * cmd_run.c - `wxrecon run JOB` and `wxrecon runs`.
 *
 * A run takes the database lock, records job_runs and one job_steps row per
 * step and day, and runs each step as a child process of this same binary
 * (`wxrecon bill fetch --date D ...`) with WXRECON_RUN_ID set, so a step's
 * exit code is the command's and a crash in one step is that step's failure.
 * Per-day steps run day by day; when a step fails for a day, the later
 * per-day steps of that day are skipped and the run goes on with the next
 * day. --resume RUN_ID runs again only the steps of that run that did not
 * end ok or attention.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "cmd/cmd.h"
#include "cmd/steprun.h"
#include "core/auditlog.h"
#include "core/job.h"
#include "core/jobrun.h"
#include "core/report.h"
#include "core/store.h"
#include "core/tasks.h"
#include "wxpay.h"

extern char **environ; /* POSIX: declared by no header without _GNU_SOURCE */

#define STEP_OUTPUT_MAX   (64 * 1024)
#define STEP_STDERR_MAX   (16 * 1024)
#define STEP_REASON_ITEMS 5 /* problems of a step's result shown with its reason */
#define MAX_PLAN          4096
/* --wait without a duration: long enough for a nightly run to finish */
#define RUN_WAIT_DEFAULT_S (2 * 3600)

struct plan_step {
	enum step_kind kind;
	char date[CLOCK_DATE_LEN]; /* "" for once-per-run steps */
	int64_t id;
	const char *state;
	int exit_code;
	char *output; /* owned: the child's --json stdout */
	char *reason; /* owned: why it did not end ok, or NULL */
	int64_t ms;
	bool unreached; /* not tried: an earlier step could not reach WeChat Pay */
};

/* The steps that need WeChat Pay (reconcile works offline when it must). */
static bool talks_to_wechat(enum step_kind k)
{
	return k == STEP_SWEEP_ORDERS || k == STEP_SWEEP_REFUNDS || k == STEP_FETCH_BILLS;
}

struct run {
	struct ctx *ctx;
	struct job job;
	char from[CLOCK_DATE_LEN];
	char to[CLOCK_DATE_LEN];
	bool dry_run;
	int64_t run_id;
	int64_t resumed_from;
	bool quiet; /* print only what needs a person; steps' stderr is kept, not shown */
	struct plan_step *plan;
	int nplan;
	/* a worker's task (cmd/steprun.h): the child's fence, and the lease's renewal */
	const char *task_env;
	void (*tick)(void *arg);
	void *tick_arg;
	int tick_ms;
};

static int plan_add(struct run *run, enum step_kind k, const char *date, struct wxr_err *err)
{
	struct plan_step *p;

	if (run->nplan == MAX_PLAN)
		return err_set(err, WXR_EUSAGE,
		               "the range makes more than %d steps; run it in parts", MAX_PLAN);
	run->plan = xreallocarray(run->plan, (size_t)run->nplan + 1, sizeof(*run->plan));
	p = &run->plan[run->nplan++];
	memset(p, 0, sizeof(*p));
	p->kind = k;
	snprintf(p->date, sizeof(p->date), "%s", date ? date : "");
	p->state = "pending";
	return 0;
}

/* Consecutive per-day steps run day by day; the others once. */
static int plan_new(struct run *run, struct wxr_err *err)
{
	const struct job *job = &run->job;
	int r;

	for (int i = 0; i < job->nsteps;) {
		int j = i;

		if (!step_is_per_day(job->steps[i])) {
			r = plan_add(run, job->steps[i], NULL, err);
			if (r < 0)
				return r;
			i++;
			continue;
		}
		while (j < job->nsteps && step_is_per_day(job->steps[j]))
			j++;
		if (!run->from[0])
			return err_set(
			        err, WXR_EUSAGE,
			        "job '%s' has per-day steps: give DATES (--date, --from/--to "
			        "or --yesterday)",
			        job->name);
		for (char d[CLOCK_DATE_LEN] = "";;) {
			if (!d[0])
				memcpy(d, run->from, sizeof(d));
			for (int k = i; k < j; k++) {
				r = plan_add(run, job->steps[k], d, err);
				if (r < 0)
					return r;
			}
			if (strcmp(d, run->to) >= 0)
				break;
			date_add_days(d, 1, d, err);
		}
		i = j;
	}
	return 0;
}

static int resume_step(void *arg, const char *name, const char *date, struct wxr_err *err)
{
	struct run *run = arg;

	for (int k = 0; k < STEP_KIND_COUNT; k++) {
		if (strcmp(step_name((enum step_kind)k), name) == 0)
			return plan_add(run, (enum step_kind)k, date, err);
	}
	return 0; /* a step this version no longer knows */
}

static int plan_resume(struct run *run, struct wxr_err *err)
{
	struct job_run_row was;
	int r;

	r = jobrun_get(run->ctx->db, run->resumed_from, &was, err);
	if (r == WXR_ENOTFOUND)
		return err_set(err, WXR_EUSAGE, "--resume: no run %" PRId64, run->resumed_from);
	if (r < 0)
		return r;
	if (strcmp(was.job, run->job.name) != 0) {
		r = err_set(err, WXR_EUSAGE, "--resume: run %" PRId64 " was job '%s', not '%s'",
		            run->resumed_from, was.job, run->job.name);
		jobrun_release(&was);
		return r;
	}
	/* A run still marked running whose lock we now hold has died: resumable. */
	snprintf(run->from, sizeof(run->from), "%s", was.from);
	snprintf(run->to, sizeof(run->to), "%s", was.to);
	run->dry_run = was.dry_run;
	jobrun_release(&was);
	r = jobrun_steps_unfinished(run->ctx->db, run->resumed_from, resume_step, run, err);
	if (r < 0)
		return r;
	if (!run->nplan)
		return err_set(err, WXR_EUSAGE, "--resume: run %" PRId64 " has no step left to run",
		               run->resumed_from);
	return 0;
}

/* argv for the child; returned strings are owned by the arena list. */
struct argv_b {
	char *v[64];
	int n;
};

static void av(struct argv_b *a, const char *s)
{
	if (a->n < (int)ARRAY_SIZE(a->v) - 1)
		a->v[a->n++] = xstrdup(s);
	a->v[a->n] = NULL;
}

static void av_free(struct argv_b *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

static void av_base(struct run *run, struct argv_b *a, const char *self);

static void av_common(struct run *run, struct argv_b *a, const char *self)
{
	av_base(run, a, self);
	av(a, "--json");
}

/* The global options of a step; av_common adds --json for a result to keep. */
static void av_base(struct run *run, struct argv_b *a, const char *self)
{
	av(a, self);
	if (run->ctx->have_config) {
		av(a, "-c");
		av(a, run->ctx->cfg.path);
	}
	/* --db takes a path or a URI: key=value conninfo reaches the steps through -c */
	if (!run->ctx->db_url || store_is_pg_uri(run->ctx->db_path)) {
		av(a, "--db");
		av(a, run->ctx->db_path);
	}
	av(a, "-q");
	/* one of several merchants ([merchant "NAME"]): so is each step */
	if (run->ctx->cfg.merchant_name) {
		av(a, "--merchant");
		av(a, run->ctx->cfg.merchant_name);
	}
}

/* Adds what a read from fd gave to b (capped at cap); false at its end. */
/* Writes the first n bytes of pass to our stderr and drops them from pass. */
static void pass_on(struct buf *pass, size_t n)
{
	if (!n)
		return;
	if (write(STDERR_FILENO, pass->data, n) < 0) {
		/* our stderr is gone: the step's lines are still kept in errs */
	}
	memmove(pass->data, pass->data + n, pass->len - n);
	pass->len -= n;
}

/*
 * Reads what fd has into b (up to cap). pass, when not NULL, gets a copy for
 * our stderr, which is written on except its last complete line (and what
 * follows): that may be the child's error line, which the step table shows
 * as the step's reason; spawn() decides when the child has exited.
 */
static bool drain(int fd, struct buf *b, size_t cap, struct buf *pass)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));
	size_t keep;

	if (n < 0)
		return errno == EINTR || errno == EAGAIN;
	if (n == 0)
		return false;
	if (b->len + (size_t)n <= cap)
		buf_add(b, chunk, (size_t)n);
	if (!pass)
		return true;
	buf_add(pass, chunk, (size_t)n);
	if (pass->len > STEP_STDERR_MAX) {
		pass_on(pass, pass->len);
		return true;
	}
	/* hold back the last complete line and the partial one after it */
	keep = pass->len;
	while (keep && pass->data[keep - 1] != '\n')
		keep--;
	if (keep) {
		keep--;
		while (keep && pass->data[keep - 1] != '\n')
			keep--;
	}
	pass_on(pass, keep);
	return true;
}

/* Runs one child; collects its stdout into out and its stderr into errs
 * (both capped; stderr is also passed on unless the run is quiet). Returns
 * its exit code (0..255), or 1 with a message when it could not run or was
 * killed. */
static int spawn(struct run *run, char *const argv[], struct buf *out, struct buf *errs, char *why,
                 size_t whylen)
{
	int pfd[2], efd[2];
	pid_t pid;
	int status = 0;
	int code;
	char idbuf[32];
	struct pollfd fds[2];
	struct buf pass = BUF_INIT; /* stderr to pass on, when not quiet */
	char **envp = NULL;
	size_t nenv = 0;
	char cannot_run[512];
	int ncannot;

	if (pipe(pfd) < 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return 1;
	}
	if (pipe(efd) < 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return 1;
	}
	/* The child's environment is built before fork: this process has other threads (the
	 * lock's heartbeat), so between fork and exec the child calls only what is
	 * async-signal-safe (no setenv, no stdio, no malloc). */
	snprintf(idbuf, sizeof(idbuf), "WXRECON_RUN_ID=%" PRId64, run->run_id);
	while (environ[nenv])
		nenv++;
	envp = xcalloc(nenv + 3, sizeof(*envp));
	nenv = 0;
	for (char **e = environ; *e; e++) {
		if (strncmp(*e, "WXRECON_RUN_ID=", 15) != 0 &&
		    strncmp(*e, "WXRECON_TASK=", 13) != 0)
			envp[nenv++] = *e;
	}
	envp[nenv++] = idbuf;
	if (run->task_env)
		envp[nenv] = (char *)run->task_env;
	ncannot = snprintf(cannot_run, sizeof(cannot_run), "wxrecon: cannot run '%s'\n", argv[0]);
	if (ncannot < 0 || (size_t)ncannot >= sizeof(cannot_run))
		ncannot = (int)strlen(cannot_run);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		free(envp);
		close(pfd[0]);
		close(pfd[1]);
		close(efd[0]);
		close(efd[1]);
		return 1;
	}
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		dup2(efd[1], STDERR_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		close(efd[0]);
		close(efd[1]);
		execve(argv[0], argv, envp);
		if (write(STDERR_FILENO, cannot_run, (size_t)ncannot) < 0) {
			/* nothing more to say */
		}
		_exit(127);
	}
	free(envp);
	close(pfd[1]);
	close(efd[1]);
	fds[0].fd = pfd[0];
	fds[1].fd = efd[0];
	fds[0].events = fds[1].events = POLLIN;
	while (fds[0].fd >= 0 || fds[1].fd >= 0) {
		int n = poll(fds, 2, run->tick ? run->tick_ms : -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (n == 0) {
			run->tick(run->tick_arg);
			continue;
		}
		if (fds[0].revents && !drain(fds[0].fd, out, STEP_OUTPUT_MAX, NULL)) {
			close(fds[0].fd);
			fds[0].fd = -1;
		}
		if (fds[1].revents &&
		    !drain(fds[1].fd, errs, STEP_STDERR_MAX, run->quiet ? NULL : &pass)) {
			close(fds[1].fd);
			fds[1].fd = -1;
		}
	}
	if (fds[0].fd >= 0)
		close(fds[0].fd);
	if (fds[1].fd >= 0)
		close(fds[1].fd);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			snprintf(why, whylen, "waitpid: %s", strerror(errno));
			code = 1;
			goto out;
		}
	}
	if (WIFSIGNALED(status)) {
		snprintf(why, whylen, "killed by signal %d", WTERMSIG(status));
		code = 1;
		goto out;
	}
	code = WEXITSTATUS(status);
out:
	/* a step that did not end ok shows its last line as its reason: say it once */
	if (code == 0)
		pass_on(&pass, pass.len);
	buf_release(&pass);
	return code;
}

static const char *jstr(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

/*
 * The reason of a step that did not end ok: its error line (the last line
 * it wrote on stderr, without "wxrecon: "), else why (it could not run, was
 * killed, ...); then the problems its JSON result lists (a sweep's failed
 * orders), one a line, as `what target: detail`, at most STEP_REASON_ITEMS.
 */
static char *step_reason(const struct buf *errs, const char *output, const char *why)
{
	struct buf r = BUF_INIT;
	const char *s = errs->len ? errs->data : "";
	size_t n = errs->len;
	json_t *res = output && output[0] == '{' ? json_loads(output, 0, NULL) : NULL;
	json_t *problems = json_object_get(res, "problems");
	size_t k;
	json_t *it;

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	if (n) {
		const char *line = s + n;

		while (line > s && line[-1] != '\n')
			line--;
		if (strncmp(line, "wxrecon: ", 9) == 0)
			line += 9;
		buf_add(&r, line, (size_t)(s + n - line));
	} else {
		buf_adds(&r, why[0] ? why : "no reason given");
	}
	json_array_foreach(problems, k, it)
	{
		if (k == STEP_REASON_ITEMS) {
			buf_addf(&r, "\n(%zu more: wxrecon actions)",
			         json_array_size(problems) - k);
			break;
		}
		buf_addf(&r, "\n%s %s: %s", jstr(it, "what"), jstr(it, "target"),
		         jstr(it, "detail"));
	}
	json_decref(res);
	return buf_detach(&r, NULL);
}

static int self_path(char *out, size_t n, struct wxr_err *err)
{
	ssize_t len = readlink("/proc/self/exe", out, n - 1);

	if (len < 0)
		return err_set(err, WXR_EIO, "cannot find my own binary: %s", strerror(errno));
	out[len] = '\0';
	return 0;
}

/* Runs one plan step (one or more children). */
static int run_step(struct run *run, struct plan_step *p, const char *self, struct wxr_err *err)
{
	struct argv_b a = { .n = 0 };
	struct buf out = BUF_INIT;
	struct buf errs = BUF_INIT;
	char why[256] = "";
	char lim[32];
	int code = 0;
	int64_t t0 = clock_mono_ms();
	const struct job *job = &run->job;
	int r;

	r = jobrun_step_set(run->ctx->db, p->id, "running", 0, NULL, NULL, err);
	if (r < 0)
		return r;
	switch (p->kind) {
	case STEP_SWEEP_ORDERS:
	case STEP_SWEEP_REFUNDS:
		av_common(run, &a, self);
		av(&a, "sweep");
		av(&a, p->kind == STEP_SWEEP_ORDERS ? "orders" : "refunds");
		if (p->kind == STEP_SWEEP_ORDERS && job->older_than) {
			av(&a, "--older-than");
			av(&a, job->older_than);
		}
		if ((p->kind == STEP_SWEEP_ORDERS ? job->sweep_orders_limit
		                                  : job->sweep_refunds_limit) > 0) {
			snprintf(lim, sizeof(lim), "%ld",
			         p->kind == STEP_SWEEP_ORDERS ? job->sweep_orders_limit
			                                      : job->sweep_refunds_limit);
			av(&a, "--limit");
			av(&a, lim);
		}
		if (run->dry_run)
			av(&a, "--dry-run");
		code = spawn(run, a.v, &out, &errs, why, sizeof(why));
		break;
	case STEP_FETCH_BILLS:
		if (run->dry_run) {
			p->state = "skipped";
			snprintf(why, sizeof(why), "dry run: bills are not fetched");
			goto done;
		}
		av_common(run, &a, self);
		av(&a, "bill");
		av(&a, "fetch");
		av(&a, "--date");
		av(&a, p->date);
		if (job->bill_kind) {
			av(&a, "--kind");
			av(&a, job->bill_kind);
		}
		code = spawn(run, a.v, &out, &errs, why, sizeof(why));
		break;
	case STEP_RECONCILE:
		av_common(run, &a, self);
		av(&a, "reconcile");
		av(&a, "--date");
		av(&a, p->date);
		if (run->dry_run)
			av(&a, "--dry-run");
		code = spawn(run, a.v, &out, &errs, why, sizeof(why));
		break;
	case STEP_REPORT: {
		const char *formats = job->report_formats ? job->report_formats : "html";
		char *copy = xstrdup(formats);
		char *save = NULL;

		if (run->dry_run) {
			free(copy);
			p->state = "skipped";
			snprintf(why, sizeof(why), "dry run: no report is written");
			goto done;
		}
		if (mkdir(run->ctx->cfg.reports_dir, 0750) < 0 && errno != EEXIST) {
			snprintf(why, sizeof(why), "cannot create '%s': %s",
			         run->ctx->cfg.reports_dir, strerror(errno));
			code = 1;
			free(copy);
			break;
		}
		for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
			/* one report per merchant: with several, its name says whose */
			const char *who = run->ctx->cfg.merchant_name;
			char *target;
			int c;

			if (strcmp(f, "csv") == 0)
				target = xasprintf("%s/%s_%s%s%s_%s-csv", run->ctx->cfg.reports_dir,
				                   job->name, who ? who : "", who ? "_" : "",
				                   run->from, run->to);
			else
				target = xasprintf("%s/%s_%s%s%s_%s.%s", run->ctx->cfg.reports_dir,
				                   job->name, who ? who : "", who ? "_" : "",
				                   run->from, run->to, f);
			av_free(&a);
			av_base(run, &a, self); /* the report goes to the file */
			av(&a, "report");
			av(&a, "--from");
			av(&a, run->from);
			av(&a, "--to");
			av(&a, run->to);
			av(&a, "--format");
			av(&a, f);
			av(&a, "-o");
			av(&a, target);
			free(target);
			c = spawn(run, a.v, &out, &errs, why, sizeof(why));
			if (c > code || (c != 0 && c != 3))
				code = c;
		}
		free(copy);
		break;
	}
	default:
		BUG("step kind %d", (int)p->kind);
	}
	p->exit_code = code;
	p->state = runlock_state(code);
	if (code != 0 && code != 3 && !why[0])
		snprintf(why, sizeof(why), "exit %d", code);
done:
	p->ms = clock_mono_ms() - t0;
	p->output = buf_detach(&out, NULL);
	if (strcmp(p->state, "ok") != 0)
		p->reason = step_reason(&errs, p->output, why);
	buf_release(&errs);
	av_free(&a);
	return jobrun_step_set(run->ctx->db, p->id, p->state, p->exit_code,
	                       p->output[0] ? p->output : (why[0] ? why : NULL), p->reason, err);
}

static json_t *summary_json(struct run *run, const char *state, int exit_code)
{
	json_t *steps = json_array();
	json_t *o;

	for (int i = 0; i < run->nplan; i++) {
		struct plan_step *p = &run->plan[i];
		json_t *res = p->output && p->output[0] ? json_loads(p->output, 0, NULL) : NULL;

		json_array_append_new(
		        steps, json_pack("{s:s, s:s?, s:s, s:i, s:I, s:s?, s:o?}", "step",
		                         step_name(p->kind), "date", p->date[0] ? p->date : NULL,
		                         "state", p->state, "exit_code", p->exit_code, "ms",
		                         (json_int_t)p->ms, "reason", p->reason, "result", res));
	}
	o = json_pack("{s:I, s:s, s:s?, s:s?, s:b, s:s, s:i, s:o}", "run_id",
	              (json_int_t)run->run_id, "job", run->job.name, "from",
	              run->from[0] ? run->from : NULL, "to", run->to[0] ? run->to : NULL, "dry_run",
	              run->dry_run, "state", state, "exit_code", exit_code, "steps", steps);
	if (o && run->resumed_from)
		json_object_set_new(o, "resumed_from", json_integer(run->resumed_from));
	if (o && run->ctx->cfg.merchant_name)
		json_object_set_new(o, "merchant", json_string(run->ctx->cfg.merchant_name));
	return o;
}

/* Runs the user's on_attention command with the summary on stdin. */
static void alert(struct run *run, const char *summary)
{
	const char *cmd = run->ctx->cfg.on_attention;
	FILE *p;
	int st;
	struct wxr_err err = WXR_ERR_INIT;
	char detail[256];

	if (!cmd || !*cmd)
		return;
	signal(SIGPIPE, SIG_IGN);
	p = popen(cmd, "w");
	if (!p) {
		log_warn("on_attention: cannot run '%s': %s", cmd, strerror(errno));
		return;
	}
	fputs(summary, p);
	fputc('\n', p);
	st = pclose(p);
	if (st != 0) {
		int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);

		log_warn("on_attention command failed (exit %d); the run's result stands", code);
		snprintf(detail, sizeof(detail), "{\"exit\":%d}", code);
		auditlog_append(run->ctx->db, run->run_id, "jobs", "alert.failed", run->job.name,
		                detail, &err);
	} else {
		auditlog_append(run->ctx->db, run->run_id, "jobs", "alert.sent", run->job.name,
		                NULL, &err);
	}
}

/* A step's reason under its line, each of its lines indented. */
void cmd_print_reason(const char *reason)
{
	while (reason && *reason) {
		size_t n = strcspn(reason, "\n");

		printf("            %.*s\n", (int)n, reason);
		reason += n + (reason[n] == '\n');
	}
}

static void print_table(struct run *run, const char *state)
{
	printf("run %" PRId64 " (%s%s%s%s%s%s%s): %s\n", run->run_id, run->job.name,
	       run->from[0] ? " " : "", run->from,
	       run->from[0] && strcmp(run->from, run->to) ? ".." : "",
	       run->from[0] && strcmp(run->from, run->to) ? run->to : "",
	       run->ctx->cfg.merchant_name ? ", merchant " : "",
	       run->ctx->cfg.merchant_name ? run->ctx->cfg.merchant_name : "", state);
	for (int i = 0; i < run->nplan; i++) {
		struct plan_step *p = &run->plan[i];

		printf("  %-9s %-13s %-10s %6.1fs\n", p->state, step_name(p->kind),
		       p->date[0] ? p->date : "-", (double)p->ms / 1000.0);
		cmd_print_reason(p->reason);
	}
}

static int run_one(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		DATES_LONG_OPTIONS,
		{ "dry-run", no_argument, NULL, 'n' },
		{ "resume", required_argument, NULL, 'R' },
		{ "wait", optional_argument, NULL, 'W' },
		{ NULL, 0, NULL, 0 },
	};
	int64_t wait_s = 0;
	struct run run;
	struct dates d = { .given = false };
	char self[4096];
	struct runlock rl = { .run_id = 0 };
	const char *state;
	int exit_code = 0;
	const struct plan_step *unreachable = NULL; /* the step that found WeChat Pay unreachable */
	json_t *sum = NULL;
	char *sum_text = NULL;
	int c;
	int r;

	memset(&run, 0, sizeof(run));
	run.ctx = ctx;
	/* under cron (stdout not a terminal) a clean run says nothing */
	run.quiet = log_get_level() == LOG_QUIET ||
	            (log_get_level() != LOG_VERBOSE && !isatty(STDOUT_FILENO));
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			run.dry_run = true;
			break;
		case 'W':
			wait_s = RUN_WAIT_DEFAULT_S;
			if (optarg && (duration_parse(optarg, &wait_s, err) < 0 || wait_s <= 0))
				return cmd_usage_error(
				        ctx, err, "--wait: bad duration '%s' (want like 30m, 2h)",
				        optarg);
			break;
		case 'R': {
			char *end;

			run.resumed_from = strtoll(optarg, &end, 10);
			if (*end || run.resumed_from <= 0)
				return cmd_usage_error(ctx, err, "--resume: bad run id '%s'",
				                       optarg);
			break;
		}
		default:
			r = cmd_option(ctx, &d, c, argv, err);
			if (r < 0)
				return r;
			break;
		}
	}
	if (optind != argc - 1)
		return cmd_usage_error(ctx, err,
		                       optind >= argc ? "which job?" : "unexpected argument '%s'",
		                       optind < argc ? argv[optind + 1] : "");
	r = job_load(&run.job, ctx->cfg.jobs_dir, argv[optind], err);
	if (r < 0)
		return r;
	if (run.resumed_from && (d.given || d.yesterday || run.dry_run)) {
		r = cmd_usage_error(ctx, err,
		                    "--resume takes the dates and mode of the run it resumes");
		goto out;
	}
	r = self_path(self, sizeof(self), err);
	if (r < 0)
		goto out;
	if (!run.resumed_from) {
		r = dates_finish(ctx, &d, run.job.default_yesterday, err);
		if (r < 0)
			goto out;
		if (d.given) {
			memcpy(run.from, d.from, sizeof(run.from));
			memcpy(run.to, d.to, sizeof(run.to));
		}
	}
	r = cmd_runlock_take(ctx, &rl, wait_s, err);
	if (r == WXR_ELOCKED && !wait_s) {
		char why[sizeof(err->msg)];

		snprintf(why, sizeof(why), "%s", err->msg);
		err_set(err, r,
		        "%s; try later, or let the run wait for it: wxrecon run %s --wait[=DUR]",
		        why, run.job.name);
	}
	if (r < 0)
		goto out;
	if (run.resumed_from)
		r = plan_resume(&run, err);
	else
		r = plan_new(&run, err);
	if (r < 0)
		goto out;
	{
		struct runlock_run what = { .job = run.job.name,
			                    .from = run.from,
			                    .to = run.to,
			                    .dry_run = run.dry_run,
			                    .resumed_from = run.resumed_from };

		r = runlock_start(&rl, &what, err);
		run.run_id = rl.run_id;
		if (r < 0)
			goto out;
	}
	for (int i = 0; i < run.nplan; i++) {
		r = jobrun_step_add(ctx->db, run.run_id, i + 1, step_name(run.plan[i].kind),
		                    run.plan[i].date[0] ? run.plan[i].date : NULL, &run.plan[i].id,
		                    err);
		if (r < 0)
			goto out;
	}
	auditlog_append(ctx->db, run.run_id, "jobs", "run.start", run.job.name, NULL, err);

	for (int i = 0; i < run.nplan; i++) {
		struct plan_step *p = &run.plan[i];
		bool skip = false;

		/* WeChat Pay unreachable: said once, by the step that found it */
		if (unreachable && talks_to_wechat(p->kind)) {
			p->state = "skipped";
			p->unreached = true;
			p->reason = xasprintf(
			        "not tried: WeChat Pay could not be reached (step %s%s%s)",
			        step_name(unreachable->kind), unreachable->date[0] ? " " : "",
			        unreachable->date);
			r = jobrun_step_set(ctx->db, p->id, "skipped", 0, p->reason, p->reason,
			                    err);
			if (r < 0)
				goto out;
			continue;
		}
		/* a failed per-day step skips the later per-day steps of that day */
		for (int k = 0; k < i && p->date[0]; k++) {
			if (strcmp(run.plan[k].date, p->date) == 0 &&
			    (strcmp(run.plan[k].state, "failed") == 0 || run.plan[k].unreached))
				skip = true;
		}
		if (skip) {
			p->state = "skipped";
			p->reason = xstrdup("an earlier step failed for this day");
			r = jobrun_step_set(ctx->db, p->id, "skipped", 0,
			                    "skipped: an earlier step failed for this day",
			                    p->reason, err);
			if (r < 0)
				goto out;
			continue;
		}
		log_progress("[%d/%d] %s %s", i + 1, run.nplan, step_name(p->kind), p->date);
		r = run_step(&run, p, self, err);
		if (r < 0)
			goto out;
		if (strcmp(p->state, "failed") == 0 && p->reason &&
		    strstr(p->reason, WXPAY_UNREACHABLE) && !unreachable)
			unreachable = p;
		if (strcmp(p->state, "failed") == 0)
			exit_code = 1;
		else if (strcmp(p->state, "attention") == 0 && exit_code == 0)
			exit_code = 3;
	}
	log_progress_done();
	state = runlock_state(exit_code);
	sum = summary_json(&run, state, exit_code);
	sum_text = json_dumps(sum, JSON_COMPACT);
	r = runlock_finish(&rl, state, exit_code, sum_text, err);
	if (r < 0)
		goto out;
	auditlog_append(ctx->db, run.run_id, "jobs", "run.end", run.job.name, sum_text, err);
	if (ctx->json)
		printf("%s\n", sum_text);
	else if (!run.quiet || exit_code != 0)
		print_table(&run, state);
	if (exit_code != 0)
		alert(&run, sum_text);
	if (exit_code == 1)
		r = err_set(err, WXR_EFAIL,
		            "run %" PRId64 " of '%s': a step failed; see 'wxrecon runs'"
		            " (resume with: wxrecon run %s --resume %" PRId64 ")",
		            run.run_id, run.job.name, run.job.name, run.run_id);
	else if (exit_code == 3)
		r = err_set(err, WXR_EATTENTION,
		            "run %" PRId64 " of '%s' needs attention: open"
		            " discrepancies or held actions",
		            run.run_id, run.job.name);
	else
		r = 0;
out:
	runlock_end(&rl, r);
	for (int i = 0; i < run.nplan; i++) {
		free(run.plan[i].output);
		free(run.plan[i].reason);
	}
	free(run.plan);
	free(sum_text);
	json_decref(sum);
	job_release(&run.job);
	return r;
}

/* Whether argv asks for --enqueue (before a "--"). */
static bool wants_enqueue(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--enqueue") == 0)
			return true;
	}
	return false;
}

/*
 * `run JOB [DATES] --enqueue`: the job's tasks for the workers, one per
 * merchant, date and step (core/tasks.h), instead of running them here.
 */
static int run_enqueue(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		DATES_LONG_OPTIONS,
		{ "enqueue", no_argument, NULL, 'E' },
		{ NULL, 0, NULL, 0 },
	};
	struct dates d = { .given = false };
	struct tasks_enqueued q;
	struct job job;
	const char **mchids;
	size_t n = 0;
	char now[CLOCK_RFC3339_LEN];
	int c;
	int r;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'E')
			continue;
		if (c == '?' && (strcmp(argv[optind - 1], "--dry-run") == 0 ||
		                 strncmp(argv[optind - 1], "--resume", 8) == 0 ||
		                 strncmp(argv[optind - 1], "--wait", 6) == 0))
			return cmd_usage_error(
			        ctx, err,
			        "--enqueue leaves the run to the workers: %s does not "
			        "go with it",
			        argv[optind - 1]);
		r = cmd_option(ctx, &d, c, argv, err);
		if (r < 0)
			return r;
	}
	if (optind != argc - 1)
		return cmd_usage_error(ctx, err,
		                       optind >= argc ? "which job?" : "unexpected argument '%s'",
		                       optind < argc ? argv[optind + 1] : "");
	r = job_load(&job, ctx->cfg.jobs_dir, argv[optind], err);
	if (r < 0)
		return r;
	r = dates_finish(ctx, &d, job.default_yesterday, err);
	if (r < 0)
		goto out;
	n = cmd_merchant_mchids(ctx, true, &mchids);
	time_format_rfc3339(clock_real_now(), 0, now);
	r = tasks_enqueue_job(ctx->db, &job, d.given ? d.from : "", d.given ? d.to : "", mchids, n,
	                      n == 1 ? mchids[0] : "", now, &q, err);
	free(mchids);
	if (r < 0)
		goto out;
	if (ctx->json)
		r = cmd_print_json(json_pack("{s:I, s:s, s:s?, s:s?, s:i, s:i, s:i}", "run_id",
		                             (json_int_t)q.run_id, "job", job.name, "from",
		                             d.given ? d.from : NULL, "to", d.given ? d.to : NULL,
		                             "merchants", (int)n, "tasks", q.total, "new", q.added),
		                   err);
	else if (q.added)
		printf("run %" PRId64 ": queued %d tasks of '%s' for %zu merchant%s (%d new); "
		       "'wxrecon worker' does them\n",
		       q.run_id, q.total, job.name, n, n == 1 ? "" : "s", q.added);
	else
		printf("run %" PRId64 ": the %d tasks of '%s' were queued already (0 new)\n",
		       q.run_id, q.total, job.name);
out:
	job_release(&job);
	return r;
}

int cmd_step_run(struct ctx *ctx, struct step_task *t, struct wxr_err *err)
{
	struct run run;
	struct plan_step p;
	char self[4096];
	int r;

	memset(&run, 0, sizeof(run));
	memset(&p, 0, sizeof(p));
	run.ctx = ctx;
	run.quiet = true;
	run.run_id = t->run_id;
	run.task_env = t->task_env;
	run.tick = t->tick;
	run.tick_arg = t->tick_arg;
	run.tick_ms = t->tick_ms;
	snprintf(run.from, sizeof(run.from), "%s", t->from ? t->from : "");
	snprintf(run.to, sizeof(run.to), "%s", t->to ? t->to : "");
	snprintf(p.date, sizeof(p.date), "%s", t->date ? t->date : "");
	r = self_path(self, sizeof(self), err);
	if (r == 0)
		r = job_load(&run.job, ctx->cfg.jobs_dir, t->job, err);
	if (r < 0)
		return r;
	r = err_set(err, WXR_EDATA, "job '%s' has no step '%s'", t->job, t->step);
	for (int i = 0; i < run.job.nsteps; i++) {
		if (strcmp(step_name(run.job.steps[i]), t->step) == 0) {
			p.kind = run.job.steps[i];
			r = 0;
		}
	}
	if (r == 0)
		r = jobrun_step_add(ctx->db, t->run_id, (int)t->seq, t->step, t->date, &p.id, err);
	if (r == 0)
		r = run_step(&run, &p, self, err);
	if (r == 0) {
		t->state = p.state;
		t->exit_code = p.exit_code;
		t->reason = p.reason;
		p.reason = NULL;
	}
	free(p.output);
	free(p.reason);
	job_release(&run.job);
	return r;
}

/* How bad a run's result is, to keep the worst of several merchants'. */
static int run_rank(int r)
{
	return r == 0 ? 0 : r == WXR_EATTENTION ? 1 : 2;
}

/*
 * `run JOB`: with several merchants ([merchant "NAME"] sections) one run per
 * merchant of --merchant (default: each), in the config's order, each with
 * its own lock, steps and report; a merchant's failure does not stop the
 * next. The result is the worst of them.
 */
static int run_job(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	struct buf failed = BUF_INIT;
	int worst = 0;
	int nfailed = 0;

	if (wants_enqueue(argc, argv))
		return run_enqueue(ctx, argc, argv, err);
	if (ctx->n_merchants == 0)
		return run_one(ctx, argc, argv, err);
	for (size_t i = 0; i < ctx->n_merchants; i++) {
		struct config shared = ctx->cfg;
		struct config m;
		int r;

		config_defaults(&m);
		m.apiv3_key_env = shared.apiv3_key_env;
		r = config_load_merchant(&m, &shared, ctx->merchants[i], err);
		if (r == 0) {
			ctx->cfg = m;
			ctx->mchid = m.mchid ? m.mchid : "";
			cmd_getopt_reset();
			r = run_one(ctx, argc, argv, err);
			ctx->cfg = shared;
			ctx->mchid = shared.mchid ? shared.mchid : "";
		}
		config_release(&m);
		if (r == WXR_EUSAGE) {
			buf_release(&failed);
			return r;
		}
		if (r < 0 && r != WXR_EATTENTION) {
			log_error("merchant '%s': %s", ctx->merchants[i], err->msg);
			buf_addf(&failed, "%s%s", nfailed++ ? ", " : "", ctx->merchants[i]);
		}
		if (run_rank(r) > run_rank(worst))
			worst = r;
		err->msg[0] = '\0';
	}
	if (worst == WXR_EATTENTION)
		err_set(err, worst, "the runs of %zu merchants went through; some need attention",
		        ctx->n_merchants);
	else if (worst < 0)
		err_set(err, worst, "the run of %d of %zu merchants failed (%s): see above",
		        nfailed, ctx->n_merchants, failed.data);
	buf_release(&failed);
	return worst;
}

static const char run_help[] =
        "Takes the database lock, records the run and each step and day in job_runs and\n"
        "job_steps, and runs the steps of jobs/JOB.job ([jobs] dir) in order: per-day steps\n"
        "(fetch-bills, reconcile) day by day over DATES, the others once. A step that fails\n"
        "for a day skips the later steps of that day; the run goes on and exits 1 at the end\n"
        "(3 when all went through but something needs a person). --resume RUN_ID runs again\n"
        "only the steps of that run that did not finish. --dry-run: sweeps and reconcile\n"
        "only look; no bill is fetched and no report written. When the run exits 1 or 3,\n"
        "[alerts] on_attention is run with the run's JSON summary on stdin.\n"
        "When another live run holds the lock, exits 75 (try later); --wait[=DUR] waits\n"
        "for it instead, up to DUR (default 2h; like 30m, 2h), then exits 75.\n"
        "DATES: --date D | --from D --to D | --yesterday (the job's default)\n"
        "With several merchants ([merchant \"NAME\"] sections), one run per merchant of\n"
        "--merchant NAME|MCHID (repeatable; default: every merchant), one after the other,\n"
        "each with its own lock and steps, and its report named JOB_NAME_FROM_TO.FORMAT;\n"
        "one merchant's failure does not stop the next, and the exit code is the worst.\n"
        "--enqueue runs nothing here: it records the job's tasks for 'wxrecon worker', one\n"
        "per merchant (--merchant, default every one), date and step, each after the step\n"
        "before it (of its day), and prints the new run's id and how many tasks were new;\n"
        "queuing the same job and dates again adds none (and records no run). A task is\n"
        "tried 3 times, then held for a person ('wxrecon tasks').\n";

const struct cmd cmd_run = {
	.name = "run",
	.run = run_job,
	.flags = CMD_DB | CMD_MERCHANTS,
	.usage = "run JOB [DATES] [--dry-run] [--resume RUN_ID] [--wait[=DUR]] | run JOB [DATES] "
	         "--enqueue",
	.summary = "run a job (jobs/JOB.job): its steps, with a lock, recorded",
	.help = run_help,
};
