/*
 * main.c - global options, the command table, setup by flags, exit codes.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/suggest.h"
#include "base/xalloc.h"
#include "cmd/cmd.h"
#include "core/auditkey.h"
#include "core/store.h"
#include "core/tasks.h"

static int run_help(struct ctx *ctx, int argc, char **argv, struct wxr_err *err);

static const struct cmd cmd_help = {
	.name = "help",
	.run = run_help,
	.flags = CMD_STORE | CMD_NO_CONFIG,
	.usage = "help [COMMAND]",
	.summary = "show the commands, or one command's usage",
};

/* Sorted by name, one per line (t0000-basic checks the order). */
static const struct cmd *const commands[] = {
	&cmd_actions, &cmd_approve, &cmd_assign,        &cmd_audit,     &cmd_bill,   &cmd_certs,
	&cmd_comment, &cmd_config,  &cmd_discrepancies, &cmd_help,      &cmd_init,   &cmd_ledger,
	&cmd_notify,  &cmd_order,   &cmd_prune,         &cmd_reconcile, &cmd_refund, &cmd_report,
	&cmd_resolve, &cmd_run,     &cmd_runs,          &cmd_sweep,     &cmd_tasks,  &cmd_unlock,
	&cmd_version, &cmd_worker,
};

/* The config file looked up last, after -c, $WXRECON_CONFIG and ./wxrecon.conf. */
#ifndef WXRECON_SYSCONF
#define WXRECON_SYSCONF "/etc/wxrecon/wxrecon.conf"
#endif

static const char global_usage[] =
        "usage: wxrecon [-c CONFIG] [--db PATH|URI] [--merchant NAME|MCHID]... [-v|-q] [--json] "
        "COMMAND [ARGS]\n";

static const struct cmd *find_cmd(const struct cmd *const *table, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(table[i]->name, name) == 0)
			return table[i];
	}
	return NULL;
}

static const struct cmd *find_sub(const struct cmd *subs, const char *name)
{
	for (; subs && subs->name; subs++) {
		if (strcmp(subs->name, name) == 0)
			return subs;
	}
	return NULL;
}

static int unknown_sub(const struct cmd *c, const char *name, struct wxr_err *err)
{
	struct suggest sg;

	suggest_init(&sg, name);
	for (const struct cmd *s = c->subs; s->name; s++)
		suggest_try(&sg, s->name);
	if (sg.best)
		return err_set(err, WXR_EUSAGE,
		               "'%s' has no sub-command '%s'; did you mean '%s %s'?", c->name, name,
		               c->name, sg.best);
	return err_set(err, WXR_EUSAGE, "'%s' has no sub-command '%s'; see 'wxrecon help %s'",
	               c->name, name, c->name);
}

static int unknown_global(const char *opt, struct wxr_err *err)
{
	static const char *const globals[] = { "--config", "--db",   "--verbose", "--quiet",
		                               "--json",   "--help", "--version", "--merchant" };
	struct suggest sg;

	suggest_init(&sg, opt);
	for (size_t i = 0; i < ARRAY_SIZE(globals); i++)
		suggest_try(&sg, globals[i]);
	if (sg.best)
		return err_set(err, WXR_EUSAGE, "unknown option '%s'; did you mean '%s'?", opt,
		               sg.best);
	return err_set(err, WXR_EUSAGE, "unknown option '%s'; see 'wxrecon help'", opt);
}

static int unknown_command(const char *name, struct wxr_err *err)
{
	struct suggest sg;

	suggest_init(&sg, name);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		suggest_try(&sg, commands[i]->name);
	if (sg.best)
		return err_set(err, WXR_EUSAGE, "unknown command '%s'; did you mean '%s'?", name,
		               sg.best);
	return err_set(err, WXR_EUSAGE, "unknown command '%s'; see 'wxrecon help'", name);
}

static void print_overview(void)
{
	printf("%s", global_usage);
	printf("\nwxrecon reconciles WeChat Pay (API v3) bills against your "
	       "ledger.\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct cmd *c = commands[i];

		if (c->subs) {
			for (const struct cmd *s = c->subs; s->name; s++)
				printf("  %-52s %s\n", s->usage, s->summary);
		} else {
			printf("  %-52s %s\n", c->usage, c->summary);
		}
	}
	printf("\nglobal options:\n"
	       "  -c, --config FILE   config file (default $WXRECON_CONFIG, else ./wxrecon.conf,\n"
	       "                      else " WXRECON_SYSCONF ")\n"
	       "      --db PATH|URI   SQLite database file, or postgresql://USER@HOST:PORT/DBNAME\n"
	       "                      (default [database] url, else path, else var/wxrecon.db;\n"
	       "                      with no config file, --db is needed)\n"
	       "      --merchant NAME|MCHID\n"
	       "                      the [merchant \"NAME\"] a command acts on (before or after\n"
	       "                      COMMAND); needed with several merchants, except by run\n"
	       "                      (repeatable; default: each merchant in turn) and by the\n"
	       "                      commands on the whole store (init, config, audit, runs)\n"
	       "  -v, --verbose       more detail on stderr\n"
	       "  -q, --quiet         only errors and warnings on stderr\n"
	       "      --json          the result as JSON on stdout (before or after COMMAND)\n"
	       "\nexit codes: 0 done and clean; 1 failed; 2 usage or configuration error;\n"
	       "            3 done, but something needs a person;\n"
	       "            75 another live run holds the lock (try later, or 'run --wait')\n");
}

static int run_help(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	const struct cmd *c;

	if (argc < 2) {
		print_overview();
		return 0;
	}
	if (argc > 3)
		return cmd_usage_error(ctx, err, "too many arguments");
	c = find_cmd(commands, ARRAY_SIZE(commands), argv[1]);
	if (!c)
		return unknown_command(argv[1], err);
	if (argc == 3) {
		const struct cmd *s = find_sub(c->subs, argv[2]);

		if (!s)
			return unknown_sub(c, argv[2], err);
		c = s;
	}
	cmd_print_help(c);
	return 0;
}

static int ensure_parent_dir(const char *path, struct wxr_err *err)
{
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int r = 0;

	if (slash && slash != dir) {
		*slash = '\0';
		r = fs_mkdir_p(dir, 0750, err);
	}
	free(dir);
	return r;
}

/* "shop-a (1900000001), shop-b (1900000002)": the configured merchants, for messages. */
static void merchant_choices(const struct config *cfg, struct buf *b)
{
	for (size_t k = 0; k < cfg->n_merchants; k++)
		buf_addf(b, "%s%s (%s)", k ? ", " : "", cfg->merchants[k].name,
		         cfg->merchants[k].mchid);
}

/*
 * --merchant (SPEC 10): names[0..n) as given. A command acts on one
 * merchant unless it says otherwise (CMD_STORE: none, CMD_MERCHANTS:
 * several). With [merchant] alone a --merchant must be its mchid and
 * changes nothing; with [merchant "NAME"] sections a one-merchant command
 * needs one, whose config then replaces the shared one in ctx->cfg.
 */
static int pick_merchants(struct ctx *ctx, const char *const *names, size_t n, struct wxr_err *err)
{
	unsigned flags = ctx->cmd ? ctx->cmd->flags : 0;
	const char *cname = ctx->cmd ? ctx->cmd->name : "wxrecon";
	struct buf b = BUF_INIT;
	struct config m;
	int r;

	if (n && (flags & CMD_STORE))
		return cmd_usage_error(ctx, err,
		                       "'%s' acts on the whole store, not on one merchant: drop "
		                       "--merchant",
		                       cname);
	if (n > 1 && !(flags & CMD_MERCHANTS))
		return cmd_usage_error(ctx, err, "'%s' acts on one merchant: give --merchant once",
		                       cname);
	if (flags & CMD_STORE)
		return 0;
	if (!ctx->have_config) {
		if (n)
			return err_set(err, WXR_ECONFIG,
			               "--merchant '%s': no config file names a merchant; give -c "
			               "CONFIG",
			               names[0]);
		return 0;
	}
	if (ctx->cfg.n_merchants == 0) {
		for (size_t i = 0; i < n; i++) {
			if (!ctx->cfg.mchid || strcmp(names[i], ctx->cfg.mchid) != 0)
				return err_set(
				        err, WXR_ECONFIG,
				        "%s: no merchant '%s'; the config has one, [merchant] "
				        "mchid %s",
				        ctx->cfg.path, names[i],
				        ctx->cfg.mchid ? ctx->cfg.mchid : "(unset)");
		}
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (config_merchant_find(&ctx->cfg, names[i]) < 0) {
			merchant_choices(&ctx->cfg, &b);
			r = err_set(err, WXR_ECONFIG, "%s: no merchant '%s'; the config has %s",
			            ctx->cfg.path, names[i], b.data);
			buf_release(&b);
			return r;
		}
	}
	if (flags & CMD_MERCHANTS) {
		/* the merchants in the config's order, each once */
		ctx->merchants = xcalloc(ctx->cfg.n_merchants, sizeof(*ctx->merchants));
		for (size_t k = 0; k < ctx->cfg.n_merchants; k++) {
			bool want = n == 0;

			for (size_t i = 0; i < n && !want; i++)
				want = config_merchant_find(&ctx->cfg, names[i]) == (int)k;
			if (want)
				ctx->merchants[ctx->n_merchants++] = ctx->cfg.merchants[k].name;
		}
		return 0;
	}
	if (n == 0) {
		merchant_choices(&ctx->cfg, &b);
		r = err_set(err, WXR_EUSAGE,
		            "%s has several merchants: say which with --merchant NAME|MCHID (%s)",
		            ctx->cfg.path, b.data);
		buf_release(&b);
		return r;
	}
	config_defaults(&m);
	m.apiv3_key_env = ctx->cfg.apiv3_key_env;
	r = config_load_merchant(&m, &ctx->cfg, names[0], err);
	if (r < 0) {
		config_release(&m);
		return r;
	}
	config_release(&ctx->cfg);
	ctx->cfg = m;
	return 0;
}

static int setup(struct ctx *ctx, const char *config_path, bool config_given, const char *db_opt,
                 const char *const *merchants, size_t n_merchants, struct wxr_err *err)
{
	int r;

	config_defaults(&ctx->cfg);
	ctx->cfg.apiv3_key_env = getenv("WXRECON_APIV3_KEY");
	ctx->sysconf = WXRECON_SYSCONF;
	if (!config_path && !(ctx->cmd && (ctx->cmd->flags & CMD_NO_CONFIG))) {
		const char *env = getenv("WXRECON_CONFIG");

		if (env && *env) {
			config_path = env;
			config_given = true;
		} else if (access("wxrecon.conf", F_OK) == 0) {
			config_path = "wxrecon.conf";
		} else if (access(WXRECON_SYSCONF, F_OK) == 0) {
			config_path = WXRECON_SYSCONF;
		}
	}
	if (config_path) {
		r = config_load(&ctx->cfg, config_path, err);
		if (r < 0)
			return r;
		ctx->have_config = true;
	}
	(void)config_given;
	/* Run from the wrong directory, a command would create or read an empty
	 * ./var/wxrecon.db and call it clean: a database must be named. */
	if (!ctx->have_config && !db_opt && ctx->cmd &&
	    (ctx->cmd->flags & (CMD_DB | CMD_DB_CREATE)))
		return err_set(err, WXR_ECONFIG,
		               "no config file and no --db: which database? give -c CONFIG (or set "
		               "WXRECON_CONFIG, or create ./wxrecon.conf or " WXRECON_SYSCONF
		               "), or --db PATH");
	r = pick_merchants(ctx, merchants, n_merchants, err);
	if (r < 0)
		return r;
	ctx->mchid = ctx->cfg.mchid ? ctx->cfg.mchid : "";
	{
		/* set by `wxrecon run` for its steps, so their audit entries name the run */
		const char *rid = getenv("WXRECON_RUN_ID");

		if (rid && *rid) {
			char *end;

			ctx->run_id = strtoll(rid, &end, 10);
			if (*end || ctx->run_id < 0)
				return err_set(err, WXR_EUSAGE, "bad WXRECON_RUN_ID '%s'", rid);
		}
	}
	/* the store: --db (a path or a postgresql:// URI), else [database] url, else path */
	if (db_opt) {
		r = store_check_db_option(db_opt, err);
		if (r < 0)
			return r;
		ctx->db_path = xstrdup(db_opt);
		ctx->db_url = store_is_pg_uri(db_opt);
	} else if (ctx->cfg.db_url) {
		ctx->db_path = xstrdup(ctx->cfg.db_url);
		ctx->db_url = true;
	} else {
		ctx->db_path = xstrdup(ctx->cfg.db_path);
	}
	return clock_now(&ctx->now, err);
}

static int open_db(struct ctx *ctx, bool create, bool readonly, struct wxr_err *err)
{
	int r;

	/* a connection string goes to the PostgreSQL backend (db_open) */
	if (!ctx->db_url && !create && access(ctx->db_path, F_OK) != 0)
		return err_set(err, WXR_EDB,
		               "no database at '%s': run 'wxrecon init' first (or give --db PATH)",
		               ctx->db_path);
	if (create && !ctx->db_url) {
		r = ensure_parent_dir(ctx->db_path, err);
		if (r < 0)
			return r;
	}
	r = readonly ? db_open_readonly(ctx->db_path, &ctx->db, err)
	             : db_open(ctx->db_path, &ctx->db, err);
	if (r < 0)
		return r;
	if (!create) {
		r = db_check_schema(ctx->db, err);
		if (r < 0)
			return r;
	}
	/* init makes the key when there is none (cmd/init.c) */
	{
		char *key_path = auditkey_path(ctx->cfg.audit_key_file, ctx->db_path, ctx->db_url,
		                               ctx->cfg.path);

		r = auditkey_attach(ctx->db, key_path, err);
		free(key_path);
	}
	return r;
}

/* $JOURNAL_STREAM is "DEV:INODE" of the stream journald gave a service; it
 * counts only while stderr is still that stream (sd-daemon(3)), not once a
 * child's stderr was redirected to a pipe or a file. */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat sb;
	char tail;

	if (!js || sscanf(js, "%llu:%llu%c", &dev, &ino, &tail) != 2)
		return false;
	return fstat(STDERR_FILENO, &sb) == 0 && (unsigned long long)sb.st_dev == dev &&
	       (unsigned long long)sb.st_ino == ino;
}

/* Set by `wxrecon worker` for the step of a claimed task, WXRECON_TASK=ID:GEN:
 * every write transaction of this process commits only while that claim
 * still holds the task (core/tasks.h), so a worker that lost its lease
 * commits nothing. *f is kept by db until it is closed. */
static int fence_task(struct db *db, struct db_task_fence *f, struct wxr_err *err)
{
	const char *v = getenv("WXRECON_TASK");
	long long id, gen;
	char tail;

	if (!v || !*v)
		return 0;
	if (sscanf(v, "%lld:%lld%c", &id, &gen, &tail) != 2 || id <= 0 || gen <= 0)
		return err_set(err, WXR_EUSAGE, "bad WXRECON_TASK '%s' (want ID:GEN)", v);
	f->id = id;
	f->gen = gen;
	tasks_fence_commits(db, f);
	return 0;
}

/* The options that may stand before or after COMMAND. */
struct anywhere {
	bool json;              /* --json */
	const char **merchants; /* --merchant X, --merchant=X: borrowed from argv; owned */
	size_t n_merchants;
};

/* Removes every "--json", "--merchant X" and "--merchant=X" before a "--"
 * into *o. WXR_EUSAGE for a --merchant without a value. */
static int take_anywhere(int *argc, char **argv, struct anywhere *o, struct wxr_err *err)
{
	int j = 1;

	o->merchants = xcalloc((size_t)*argc, sizeof(*o->merchants));
	for (int i = 1; i < *argc; i++) {
		const char *m = NULL;

		if (strcmp(argv[i], "--") == 0) {
			while (i < *argc)
				argv[j++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--json") == 0) {
			o->json = true;
			continue;
		}
		if (strcmp(argv[i], "--merchant") == 0)
			m = i + 1 < *argc ? argv[++i] : "";
		else if (strncmp(argv[i], "--merchant=", 11) == 0)
			m = argv[i] + 11;
		if (!m) {
			argv[j++] = argv[i];
			continue;
		}
		if (!*m)
			return err_set(err, WXR_EUSAGE, "--merchant needs a NAME or an mchid");
		o->merchants[o->n_merchants++] = m;
	}
	*argc = j;
	argv[j] = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	struct ctx ctx;
	struct wxr_err err = WXR_ERR_INIT;
	const char *config_path = NULL;
	const char *db_opt = NULL;
	struct anywhere any = { .json = false };
	struct db_task_fence fence = { 0, 0 };
	const struct cmd *c;
	int i = 1;
	int r;
	int code;

	/* Everything wxrecon writes (the database and its WAL, reports, the bill archive,
	 * CSV directories) holds openids, amounts and the ledger: owner only, whatever
	 * the umask it was started with (issue 20 item 10). */
	umask(077);
	/* The business clock of tests and re-runs (SPEC 3): read here, once. */
	clock_set_now(getenv("WXRECON_NOW"), "environment WXRECON_NOW");
	memset(&ctx, 0, sizeof(ctx));
	log_set_journal(stderr_is_journal());
	/* A file-size limit makes writes fail (EFBIG: a clean "disk full" error
	 * and a rolled-back transaction) instead of killing the process. */
	signal(SIGXFSZ, SIG_IGN);
	r = take_anywhere(&argc, argv, &any, &err);
	ctx.json = any.json;
	if (r < 0)
		goto out;
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (++i >= argc) {
				r = err_set(&err, WXR_EUSAGE, "%s needs a file", a);
				goto out;
			}
			config_path = argv[i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			config_path = a + 9;
		} else if (strcmp(a, "--db") == 0) {
			if (++i >= argc) {
				r = err_set(&err, WXR_EUSAGE,
				            "--db needs a path or a postgresql:// URI");
				goto out;
			}
			db_opt = argv[i];
		} else if (strncmp(a, "--db=", 5) == 0) {
			db_opt = a + 5;
		} else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
			log_set_level(LOG_VERBOSE);
		} else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
			log_set_level(LOG_QUIET);
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			print_overview();
			r = 0;
			goto out;
		} else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0) {
			r = cmd_version_print(ctx.json, &err);
			goto out;
		} else {
			r = unknown_global(a, &err);
			goto out;
		}
	}
	if (i >= argc) {
		fputs(global_usage, stderr);
		fputs("see 'wxrecon help' for the commands\n", stderr);
		r = WXR_EUSAGE;
		err.msg[0] = '\0';
		goto out;
	}
	argc -= i;
	argv += i;
	c = find_cmd(commands, ARRAY_SIZE(commands), argv[0]);
	if (!c) {
		r = unknown_command(argv[0], &err);
		goto out;
	}
	if (c->subs) {
		const struct cmd *s;

		if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
			cmd_print_help(c);
			r = argc < 2 ? WXR_EUSAGE : 0;
			goto out;
		}
		s = find_sub(c->subs, argv[1]);
		if (!s) {
			r = unknown_sub(c, argv[1], &err);
			goto out;
		}
		c = s;
		argc--;
		argv++;
	}
	for (int k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--") == 0)
			break;
		if (strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0) {
			cmd_print_help(c);
			r = 0;
			goto out;
		}
	}
	ctx.cmd = c;
	r = setup(&ctx, config_path, config_path != NULL, db_opt, any.merchants, any.n_merchants,
	          &err);
	if (r < 0)
		goto out;
	if (c->flags & (CMD_DB | CMD_DB_CREATE)) {
		r = open_db(&ctx, (c->flags & CMD_DB_CREATE) != 0,
		            (c->flags & CMD_DB_READONLY) != 0, &err);
		if (r < 0)
			goto out;
		r = fence_task(ctx.db, &fence, &err);
		if (r < 0)
			goto out;
	}
	cmd_getopt_reset();
	r = c->run(&ctx, argc, argv, &err);
out:
	log_progress_done();
	code = wxr_exit_code(r);
	if (r < 0 && err.msg[0])
		log_error("%s", err.msg);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_error("cannot write output: %s", strerror(errno));
		if (code == 0 || code == 3)
			code = 1;
	}
	db_close(ctx.db);
	free(ctx.merchants);
	config_release(&ctx.cfg);
	free(any.merchants);
	free(ctx.db_path);
	return code;
}
