/*
 * parse.c - what every command shares: option and date parsing, usage
 * errors, help and JSON printing. main.c and the commands both call these;
 * nothing here calls back into main.c.
 */
#include <getopt.h>
#include <jansson.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/suggest.h"
#include "base/xalloc.h"
#include "cmd/cmd.h"
#include "core/jobrun.h"

void cmd_print_help(const struct cmd *cmd)
{
	printf("usage: wxrecon %s\n", cmd->usage);
	if (cmd->summary)
		printf("\n%s\n", cmd->summary);
	if (cmd->help)
		printf("\n%s", cmd->help);
	if (cmd->subs) {
		printf("\nsub-commands:\n");
		for (const struct cmd *s = cmd->subs; s->name; s++)
			printf("  wxrecon %-40s %s\n", s->usage, s->summary);
	}
}

int cmd_print_json(json_t *v, struct wxr_err *err)
{
	int r;

	if (!v)
		return err_set(err, WXR_EFAIL, "cannot build the JSON output");
	r = json_dumpf(v, stdout, JSON_COMPACT);
	fputc('\n', stdout);
	json_decref(v);
	if (r < 0)
		return err_set(err, WXR_EIO, "cannot write the JSON output");
	return 0;
}

void cmd_getopt_reset(void)
{
	optind = 0; /* glibc: full re-initialisation */
	opterr = 0;
}

int cmd_usage_error(struct ctx *ctx, struct wxr_err *err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return err_set(err, WXR_EUSAGE, "%s (usage: wxrecon %s)", msg,
	               ctx->cmd ? ctx->cmd->usage : "COMMAND");
}

int dates_option(struct dates *d, int c, const char *arg, struct wxr_err *err)
{
	switch (c) {
	case 'D':
		if (!date_is_valid(arg))
			return err_set(err, WXR_EUSAGE, "--date: bad date '%s' (want YYYY-MM-DD)",
			               arg);
		snprintf(d->from, sizeof(d->from), "%s", arg);
		snprintf(d->to, sizeof(d->to), "%s", arg);
		d->given = true;
		return 0;
	case 'F':
		if (!date_is_valid(arg))
			return err_set(err, WXR_EUSAGE, "--from: bad date '%s' (want YYYY-MM-DD)",
			               arg);
		snprintf(d->from, sizeof(d->from), "%s", arg);
		d->given = true;
		return 0;
	case 'T':
		if (!date_is_valid(arg))
			return err_set(err, WXR_EUSAGE, "--to: bad date '%s' (want YYYY-MM-DD)",
			               arg);
		snprintf(d->to, sizeof(d->to), "%s", arg);
		d->given = true;
		return 0;
	case 'Y':
		d->yesterday = true;
		return 0;
	default:
		BUG("dates_option: %c", c);
	}
}

/* Offers every "--name" written in text. */
static void suggest_options(struct suggest *sg, const char *text)
{
	for (const char *p = text ? strstr(text, "--") : NULL; p; p = strstr(p + 2, "--")) {
		size_t n = 2 + strspn(p + 2, "abcdefghijklmnopqrstuvwxyz0123456789-");

		if (n > 3)
			suggest_try_n(sg, p, n);
	}
}

/* An unknown option, with the closest the command's usage and help name. */
static int unknown_option(struct ctx *ctx, bool dates, const char *opt, struct wxr_err *err)
{
	char word[64];
	struct suggest sg;

	snprintf(word, sizeof(word), "%.*s", (int)strcspn(opt, "="), opt);
	suggest_init(&sg, word);
	if (ctx->cmd) {
		suggest_options(&sg, ctx->cmd->usage);
		suggest_options(&sg, ctx->cmd->help);
	}
	if (dates)
		suggest_options(&sg, "--date --from --to --yesterday");
	if (sg.best)
		return cmd_usage_error(ctx, err, "unknown option '%s'; did you mean '%.*s'?", opt,
		                       sg.best_len, sg.best);
	return cmd_usage_error(ctx, err, "unknown option '%s'", opt);
}

int cmd_option(struct ctx *ctx, struct dates *d, int c, char **argv, struct wxr_err *err)
{
	if (d && (c == 'D' || c == 'F' || c == 'T' || c == 'Y'))
		return dates_option(d, c, optarg, err);
	if (c == ':')
		return cmd_usage_error(ctx, err, "%s needs a value", argv[optind - 1]);
	return unknown_option(ctx, d != NULL, argv[optind - 1], err);
}

int dates_finish(struct ctx *ctx, struct dates *d, bool need_default, struct wxr_err *err)
{
	if (d->yesterday && d->given)
		return err_set(err, WXR_EUSAGE,
		               "--yesterday cannot be combined with --date/--from/--to");
	if (d->given) {
		if (!d->from[0] || !d->to[0])
			return err_set(err, WXR_EUSAGE, "--from and --to go together");
		if (strcmp(d->from, d->to) > 0)
			return err_set(err, WXR_EUSAGE, "--from %s is after --to %s", d->from,
			               d->to);
		return 0;
	}
	if (d->yesterday || need_default) {
		char today[CLOCK_DATE_LEN];

		time_date(ctx->now, ctx->cfg.tz_offset_s, today);
		date_add_days(today, -1, d->from, err);
		memcpy(d->to, d->from, sizeof(d->to));
		d->given = true;
	}
	return 0;
}

const char *cmd_whoami(char *buf, size_t n)
{
	const char *u = getenv("USER");
	struct passwd *pw;

	if (u && *u) {
		snprintf(buf, n, "user:%s", u);
		return buf;
	}
	pw = getpwuid(getuid());
	snprintf(buf, n, "user:%s", pw ? pw->pw_name : "unknown");
	return buf;
}

int cmd_runlock_take(struct ctx *ctx, struct runlock *rl, int64_t wait_s, struct wxr_err *err)
{
	const struct runlock_where where = {
		.db = ctx->db,
		.db_path = ctx->db_path,
		.mchid = ctx->mchid,
		.run_id = ctx->run_id,
	};

	return runlock_take(rl, &where, wait_s, err);
}

size_t cmd_merchant_mchids(const struct ctx *ctx, bool own, const char ***out)
{
	size_t n = 0;

	*out = xcalloc(ctx->n_merchants + 1, sizeof(**out));
	for (size_t i = 0; i < ctx->n_merchants; i++) {
		int k = config_merchant_find(&ctx->cfg, ctx->merchants[i]);

		if (k >= 0)
			(*out)[n++] = ctx->cfg.merchants[k].mchid;
	}
	if (n == 0 && own)
		(*out)[n++] = ctx->mchid;
	return n;
}

int cmd_parse_id(const char *s, int64_t *out_id)
{
	char *end;
	long long v;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	v = strtoll(s, &end, 10);
	if (*end || v <= 0)
		return -1;
	*out_id = v;
	return 0;
}
