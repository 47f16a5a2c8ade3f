/*
 * cmd.h - the command layer: struct ctx shared by the commands, the command
 * table entry, and helpers for options every command understands.
 */
#ifndef WXR_CMD_H
#define WXR_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/clock.h"
#include "base/compat.h"
#include "core/config.h"
#include "core/store.h"
#include "wxrecon.h"

struct cmd;

struct ctx {
	struct config cfg;
	bool have_config;    /* a config file was read */
	const char *sysconf; /* the config file looked up last (static) */
	char *db_path;       /* resolved; owned: a SQLite path, or with db_url a PostgreSQL
	                      * connection string (may hold no password) */
	bool db_url;         /* db_path is a PostgreSQL connection string */
	struct db *db;       /* opened by main for CMD_DB commands */
	bool json;           /* --json: the result as JSON on stdout */
	int64_t now;         /* business now (WXRECON_NOW or the clock) */
	const char *mchid;   /* cfg.mchid or "" */
	/* With CMD_MERCHANTS and [merchant "NAME"] sections: the names of the
	 * merchants to act on (--merchant, else every one), borrowed from cfg;
	 * n_merchants 0 with one merchant ([merchant] alone), or once cfg is
	 * one merchant's (cfg.merchant_name). */
	const char **merchants;
	size_t n_merchants;
	int64_t run_id;        /* the job run this command belongs to, 0 = none */
	const struct cmd *cmd; /* the command being run (for its usage line) */
};

enum {
	CMD_DB = 1 << 0,          /* needs the database, initialised */
	CMD_DB_CREATE = 1 << 1,   /* opens or creates the database itself (init) */
	CMD_DB_READONLY = 1 << 2, /* with CMD_DB: never writes, so opened read-only (works on
	                           * a read-only filesystem) */
	/* --merchant (SPEC 10). By default a command acts on one merchant: with
	 * [merchant "NAME"] sections it needs one --merchant (main loads that
	 * merchant's config into ctx->cfg); with [merchant] alone nothing changes. */
	CMD_STORE = 1 << 3,     /* acts on the whole store or config: refuses --merchant */
	CMD_MERCHANTS = 1 << 4, /* takes several (--merchant repeated; default: all), in
	                         * ctx->merchants */
	CMD_NO_CONFIG = 1 << 5, /* reads no config: one found by the lookup (./wxrecon.conf,
	                         * the system one, WXRECON_CONFIG) is not loaded, so a broken
	                         * one cannot stop `help` or `version`; -c FILE still is */
};

struct cmd {
	const char *name;
	/* Returns 0, WXR_EATTENTION (exit 3) or a negative error with err set. */
	int (*run)(struct ctx *ctx, int argc, char **argv, struct wxr_err *err);
	const struct cmd *subs; /* sub-commands, terminated by a NULL name */
	unsigned flags;
	const char *usage;   /* "ledger import [--orders F.csv] [--refunds F.csv]" */
	const char *summary; /* one line for `help` */
	const char *help;    /* longer text for `help CMD`, may be NULL */
};

/* The date options: --date D | --from D --to D | --yesterday. */
struct dates {
	char from[CLOCK_DATE_LEN];
	char to[CLOCK_DATE_LEN];
	bool given;
	bool yesterday;
};

/* Long options for struct dates; use inside a command's option table. */
#define DATES_LONG_OPTIONS                                                                  \
	{ "date", required_argument, NULL, 'D' }, { "from", required_argument, NULL, 'F' }, \
	        { "to", required_argument, NULL, 'T' },                                     \
	{                                                                                   \
		"yesterday", no_argument, NULL, 'Y'                                         \
	}

/* Handles one of the date options (c is 'D', 'F', 'T' or 'Y'). */
int dates_option(struct dates *d, int c, const char *arg, struct wxr_err *err);
/* Completes the range: checks from <= to, fills --yesterday (the default when
 * need_default) from ctx->now in the configured timezone. */
int dates_finish(struct ctx *ctx, struct dates *d, bool need_default, struct wxr_err *err);

/* Prints a JSON value compactly with a newline on stdout and frees it. */
struct json_t;
int cmd_print_json(struct json_t *v, struct wxr_err *err);

/*
 * The options every command shares, for the default: branch of its getopt
 * switch: the date options when d is not NULL, and getopt's own complaints
 * (a missing value, an unknown option) as usage errors. Returns 0 when c was
 * a date option, else a negative WXR_E*.
 */
int cmd_option(struct ctx *ctx, struct dates *d, int c, char **argv, struct wxr_err *err);

/* Who runs this command, for audit entries: "user:$USER", else the login
 * name of the uid. Returns buf. */
const char *cmd_whoami(char *buf, size_t n);
/* Parses a positive id (a discrepancy's, an action's); -1 when s is none. */
int cmd_parse_id(const char *s, int64_t *out_id);

/* Takes the run lock (core/jobrun.h) for ctx's store and merchant, as a step of
 * ctx->run_id when it is set. */
struct runlock;
int cmd_runlock_take(struct ctx *ctx, struct runlock *rl, int64_t wait_s, struct wxr_err *err);

/* The mchids of ctx->merchants (CMD_MERCHANTS with several merchants) into
 * *out (owned; the strings borrowed from ctx->cfg), their count; with none,
 * ctx->mchid when own, else nothing. */
size_t cmd_merchant_mchids(const struct ctx *ctx, bool own, const char ***out);

/* Resets getopt for a command's own option parsing. */
void cmd_getopt_reset(void);
/* A usage error for a command: "usage: wxrecon <usage>". */
int cmd_usage_error(struct ctx *ctx, struct wxr_err *err, const char *fmt, ...) WXR_PRINTF(3, 4);
/* Prints the command's usage and help to stdout (for -h). */
void cmd_print_help(const struct cmd *cmd);

/* The command implementations (one file each under src/cmd/). */
extern const struct cmd cmd_init;
extern const struct cmd cmd_ledger;
extern const struct cmd cmd_audit;
extern const struct cmd cmd_bill;
extern const struct cmd cmd_certs;
extern const struct cmd cmd_config;
extern const struct cmd cmd_discrepancies;
extern const struct cmd cmd_reconcile;
extern const struct cmd cmd_resolve;
extern const struct cmd cmd_run;
extern const struct cmd cmd_runs;
extern const struct cmd cmd_report;
extern const struct cmd cmd_actions;
extern const struct cmd cmd_approve;
extern const struct cmd cmd_assign;
extern const struct cmd cmd_comment;
extern const struct cmd cmd_refund;
extern const struct cmd cmd_sweep;
extern const struct cmd cmd_notify;
extern const struct cmd cmd_order;
extern const struct cmd cmd_prune;
extern const struct cmd cmd_tasks;
extern const struct cmd cmd_unlock;
extern const struct cmd cmd_version;
extern const struct cmd cmd_worker;

/* Prints the version, git commit and library versions (as JSON when as_json). */
int cmd_version_print(bool as_json, struct wxr_err *err);

#endif
