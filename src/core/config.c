#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/ini.h"
#include "base/money.h"
#include "base/suggest.h"
#include "base/xalloc.h"
#include "db/db_pg_conn.h"

#define CONFIG_DEFAULT_JOBS_DIR "jobs"

enum key_type {
	K_STR,
	K_PATH,
	K_LONG,
	K_INT,
	K_BOOL,
	K_DUR,
	K_HHMM,
	K_FEN,
	K_YUAN, /* an amount written in yuan ("1000.00"), stored in fen */
	K_ENUM,
	K_TZ,
	K_URL,
	K_PAC,
	K_CONNINFO
};

struct key_def {
	const char *section;
	const char *name;
	enum key_type type;
	size_t off;
	long min, max;              /* K_LONG / K_INT / K_FEN */
	const char *const *choices; /* K_ENUM */
};

static const char *const refund_types[] = { "MERCHANT_BANK_CARD", NULL };

#define O(f) offsetof(struct config, f)
static const struct key_def keys[] = {
	{ "merchant", "mchid", K_STR, O(mchid), 0, 0, NULL },
	{ "merchant", "appid", K_STR, O(appid), 0, 0, NULL },
	{ "merchant", "serial_no", K_STR, O(serial_no), 0, 0, NULL },
	{ "merchant", "private_key", K_PATH, O(private_key), 0, 0, NULL },
	{ "merchant", "apiv3_key_file", K_PATH, O(apiv3_key_file), 0, 0, NULL },
	{ "merchant", "wechatpay_public_key", K_PATH, O(wechatpay_public_key), 0, 0, NULL },
	{ "merchant", "wechatpay_public_key_id", K_STR, O(wechatpay_public_key_id), 0, 0, NULL },
	{ "merchant", "platform_cert_dir", K_PATH, O(platform_cert_dir), 0, 0, NULL },
	{ "api", "base_url", K_URL, O(base_url), 0, 0, NULL },
	{ "api", "timeout_s", K_LONG, O(timeout_s), 1, 600, NULL },
	{ "api", "retries", K_INT, O(retries), 0, 10, NULL },
	{ "api", "retry_base_ms", K_LONG, O(retry_base_ms), 1, 60000, NULL },
	{ "api", "ca_bundle", K_PATH, O(ca_bundle), 0, 0, NULL },
	{ "database", "path", K_PATH, O(db_path), 0, 0, NULL },
	{ "database", "url", K_CONNINFO, O(db_url), 0, 0, NULL },
	{ "policy", "close_after", K_DUR, O(close_after_s), 0, 0, NULL },
	{ "policy", "close_max_per_run", K_LONG, O(close_max_per_run), 0, 10000000, NULL },
	{ "policy", "mark_paid_on_missed_notify", K_BOOL, O(mark_paid_on_missed_notify), 0, 0,
	  NULL },
	{ "policy", "abnormal_refund_type", K_ENUM, O(abnormal_refund_type), 0, 0, refund_types },
	{ "policy", "abnormal_refund_max_per_run", K_LONG, O(abnormal_refund_max_per_run), 0,
	  10000000, NULL },
	{ "policy", "abnormal_refund_max_amount_per_run", K_FEN,
	  O(abnormal_refund_max_amount_per_run), 0, 0, NULL },
	{ "policy", "approval_above", K_FEN, O(approval_above), 0, 0, NULL },
	{ "policy", "paid_after_close", K_PAC, O(paid_after_close), 0, 0, NULL },
	{ "policy", "timezone", K_TZ, O(timezone), 0, 0, NULL },
	{ "policy", "severity_medium_above", K_YUAN, O(severity_medium_above), 0, 0, NULL },
	{ "policy", "severity_high_above", K_YUAN, O(severity_high_above), 0, 0, NULL },
	{ "policy", "severity_critical_above", K_YUAN, O(severity_critical_above), 0, 0, NULL },
	{ "policy", "severity_medium_after", K_DUR, O(severity_medium_after_s), 0, 0, NULL },
	{ "policy", "severity_high_after", K_DUR, O(severity_high_after_s), 0, 0, NULL },
	{ "policy", "severity_critical_after", K_DUR, O(severity_critical_after_s), 0, 0, NULL },
	{ "policy", "due_warn_days", K_LONG, O(due_warn_days), 0, 365, NULL },
	{ "policy", "resolve_confirm_above", K_LONG, O(resolve_confirm_above), 0, 1000000, NULL },
	{ "bills", "archive_dir", K_PATH, O(archive_dir), 0, 0, NULL },
	{ "bills", "release_time", K_HHMM, O(release_time_s), 0, 0, NULL },
	{ "bills", "missing_after", K_DUR, O(missing_after_s), 0, 0, NULL },
	{ "alerts", "on_attention", K_STR, O(on_attention), 0, 0, NULL },
	{ "notify", "url", K_URL, O(notify_url), 0, 0, NULL },
	{ "jobs", "dir", K_PATH, O(jobs_dir), 0, 0, NULL },
	{ "jobs", "reports_dir", K_PATH, O(reports_dir), 0, 0, NULL },
	{ "audit", "key_file", K_PATH, O(audit_key_file), 0, 0, NULL },
};
#undef O

#define FIELD(cfg, off, type) ((type *)((char *)(cfg) + (off)))

static void set_str(char **slot, const char *v)
{
	free(*slot);
	*slot = v ? xstrdup(v) : NULL;
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	set_str(&cfg->base_url, "https://api.mch.weixin.qq.com");
	cfg->timeout_s = 15;
	cfg->retries = 3;
	cfg->retry_base_ms = 500;
	set_str(&cfg->db_path, "var/wxrecon.db");
	cfg->close_after_s = 30 * 60;
	cfg->close_max_per_run = 1000;
	cfg->mark_paid_on_missed_notify = true;
	set_str(&cfg->abnormal_refund_type, "MERCHANT_BANK_CARD");
	cfg->abnormal_refund_max_per_run = 100;
	cfg->abnormal_refund_max_amount_per_run = 1000000;
	cfg->approval_above = 50000;
	cfg->paid_after_close = PAID_AFTER_CLOSE_MARK_PAID;
	set_str(&cfg->timezone, "Asia/Shanghai");
	cfg->tz_offset_s = 8 * 3600;
	cfg->severity_medium_above = 10000;     /* 100.00 yuan */
	cfg->severity_high_above = 100000;      /* 1000.00 yuan */
	cfg->severity_critical_above = 1000000; /* 10000.00 yuan */
	cfg->severity_medium_after_s = 3 * 86400;
	cfg->severity_high_after_s = 7 * 86400;
	cfg->severity_critical_after_s = 30 * 86400;
	cfg->due_warn_days = 14;
	cfg->resolve_confirm_above = 20;
	set_str(&cfg->archive_dir, "var/bills");
	cfg->release_time_s = 10 * 3600;
	cfg->missing_after_s = 24 * 3600;
	set_str(&cfg->jobs_dir, CONFIG_DEFAULT_JOBS_DIR);
	set_str(&cfg->reports_dir, "reports");
}

void config_release(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (keys[i].type == K_STR || keys[i].type == K_PATH || keys[i].type == K_ENUM ||
		    keys[i].type == K_TZ || keys[i].type == K_URL || keys[i].type == K_CONNINFO)
			set_str(FIELD(cfg, keys[i].off, char *), NULL);
	}
	free(cfg->path);
	cfg->path = NULL;
	for (size_t i = 0; i < cfg->n_merchants; i++) {
		free(cfg->merchants[i].name);
		free(cfg->merchants[i].mchid);
	}
	free(cfg->merchants);
	cfg->merchants = NULL;
	cfg->n_merchants = 0;
	free(cfg->merchant_name);
	cfg->merchant_name = NULL;
}

/* Cuts an inline comment: ';' or '#' at the start or after white space. */
static bool parse_long(const char *v, long *out)
{
	char *end;
	long n;

	if (!*v || !(isdigit((unsigned char)*v) || *v == '-'))
		return false;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end)
		return false;
	*out = n;
	return true;
}

static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcmp(v, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* Resolves a relative path against the config file's directory. */
static char *resolve_path(const char *cfg_path, const char *v)
{
	const char *slash;

	if (v[0] == '/' || !cfg_path)
		return xstrdup(v);
	slash = strrchr(cfg_path, '/');
	if (!slash)
		return xstrdup(v);
	return xasprintf("%.*s/%s", (int)(slash - cfg_path), cfg_path, v);
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
	}
	return true;
}

static int set_value(struct config *cfg, const struct key_def *k, const char *v, const char *where,
                     struct wxr_err *err)
{
	long n;
	int64_t d;
	bool b;
	int off;
	struct wxr_err sub = WXR_ERR_INIT;

	switch (k->type) {
	case K_STR:
		if (strcmp(k->name, "mchid") == 0 && !all_digits(v))
			goto bad_msg_digits;
		if (strcmp(k->name, "serial_no") == 0 && strlen(v) != 40)
			return err_set(
			        err, WXR_ECONFIG,
			        "%s: bad value for '%s.%s': a certificate serial is 40 hex digits",
			        where, k->section, k->name);
		set_str(FIELD(cfg, k->off, char *), *v ? v : NULL);
		return 0;
	case K_PATH:
		if (!*v && (k->off == offsetof(struct config, db_path) ||
		            k->off == offsetof(struct config, jobs_dir) ||
		            k->off == offsetof(struct config, reports_dir)))
			return err_set(
			        err, WXR_ECONFIG,
			        "%s: bad value for '%s.%s': empty (this path cannot be unset)",
			        where, k->section, k->name);
		if (!*v) {
			set_str(FIELD(cfg, k->off, char *), NULL);
			return 0;
		}
		free(*FIELD(cfg, k->off, char *));
		*FIELD(cfg, k->off, char *) = resolve_path(cfg->path, v);
		return 0;
	case K_URL:
		/* like ca_bundle =, an empty [notify] url is unset (base_url has a default) */
		if (!*v && k->off == offsetof(struct config, notify_url)) {
			set_str(FIELD(cfg, k->off, char *), NULL);
			return 0;
		}
		if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
			return err_set(err, WXR_ECONFIG,
			               "%s: bad value for '%s.%s': '%s' is not an http(s) URL",
			               where, k->section, k->name, v);
		set_str(FIELD(cfg, k->off, char *), v);
		return 0;
	case K_CONNINFO:
		if (!*v) {
			set_str(FIELD(cfg, k->off, char *), NULL);
			return 0;
		}
		if (db_pg_check_conninfo(v, &sub) < 0)
			return err_set(err, WXR_ECONFIG, "%s: bad value for '%s.%s': %s", where,
			               k->section, k->name, sub.msg);
		set_str(FIELD(cfg, k->off, char *), v);
		return 0;
	case K_LONG:
	case K_INT:
		if (!parse_long(v, &n) || n < k->min || n > k->max)
			return err_set(err, WXR_ECONFIG,
			               "%s: bad value for '%s.%s': '%s' (want a whole number from "
			               "%ld to %ld)",
			               where, k->section, k->name, v, k->min, k->max);
		if (k->type == K_INT)
			*FIELD(cfg, k->off, int) = (int)n;
		else
			*FIELD(cfg, k->off, long) = n;
		return 0;
	case K_FEN:
		if (!all_digits(v) || strlen(v) > 15)
			return err_set(err, WXR_ECONFIG,
			               "%s: bad value for '%s.%s': '%s' (want an amount in fen, a "
			               "whole number)",
			               where, k->section, k->name, v);
		d = 0;
		for (const char *p = v; *p; p++)
			d = d * 10 + (*p - '0');
		*FIELD(cfg, k->off, int64_t) = d;
		return 0;
	case K_YUAN:
		if (money_parse(v, MONEY_SCALE_FEN, &d, NULL) < 0 || d < 0)
			return err_set(err, WXR_ECONFIG,
			               "%s: bad value for '%s.%s': '%s' (want an amount in yuan, "
			               "such as 1000.00)",
			               where, k->section, k->name, v);
		*FIELD(cfg, k->off, int64_t) = d;
		return 0;
	case K_BOOL:
		if (!parse_bool(v, &b))
			return err_set(err, WXR_ECONFIG,
			               "%s: bad value for '%s.%s': '%s' (want true or false)",
			               where, k->section, k->name, v);
		*FIELD(cfg, k->off, bool) = b;
		return 0;
	case K_DUR:
		if (duration_parse(v, &d, &sub) < 0)
			return err_set(err, WXR_ECONFIG, "%s: bad value for '%s.%s': %s", where,
			               k->section, k->name, sub.msg);
		*FIELD(cfg, k->off, int64_t) = d;
		return 0;
	case K_HHMM: {
		int h, m;
		char extra;

		if (strlen(v) != 5 || sscanf(v, "%2d:%2d%c", &h, &m, &extra) != 2 || h < 0 ||
		    h > 23 || m < 0 || m > 59)
			return err_set(err, WXR_ECONFIG,
			               "%s: bad value for '%s.%s': '%s' (want HH:MM)", where,
			               k->section, k->name, v);
		*FIELD(cfg, k->off, int) = h * 3600 + m * 60;
		return 0;
	}
	case K_ENUM:
		for (const char *const *c = k->choices; *c; c++) {
			if (strcmp(*c, v) == 0) {
				set_str(FIELD(cfg, k->off, char *), v);
				return 0;
			}
		}
		if (strcmp(k->name, "abnormal_refund_type") == 0 &&
		    strcmp(v, "USER_BANK_CARD") == 0)
			return err_set(
			        err, WXR_ECONFIG,
			        "%s: bad value for '%s.%s': USER_BANK_CARD needs the customer's "
			        "card and is only filed by hand ('wxrecon refund abnormal'); the "
			        "sweep's choice is MERCHANT_BANK_CARD",
			        where, k->section, k->name);
		return err_set(err, WXR_ECONFIG, "%s: bad value for '%s.%s': '%s'", where,
		               k->section, k->name, v);
	case K_PAC:
		if (strcmp(v, "mark_paid") == 0)
			cfg->paid_after_close = PAID_AFTER_CLOSE_MARK_PAID;
		else if (strcmp(v, "refund") == 0)
			cfg->paid_after_close = PAID_AFTER_CLOSE_REFUND;
		else if (strcmp(v, "hold") == 0)
			cfg->paid_after_close = PAID_AFTER_CLOSE_HOLD;
		else
			return err_set(
			        err, WXR_ECONFIG,
			        "%s: bad value for '%s.%s': '%s' (want mark_paid, refund or hold)",
			        where, k->section, k->name, v);
		return 0;
	case K_TZ:
		if (tz_offset(v, &off, &sub) < 0)
			return err_set(err, WXR_ECONFIG, "%s: bad value for '%s.%s': %s", where,
			               k->section, k->name, sub.msg);
		set_str(FIELD(cfg, k->off, char *), v);
		cfg->tz_offset_s = off;
		return 0;
	}
	BUG("unhandled key type %d", (int)k->type);

bad_msg_digits:
	return err_set(err, WXR_ECONFIG, "%s: bad value for '%s.%s': '%s' (want digits)", where,
	               k->section, k->name, v);
}

static bool section_known(const char *s)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (strcmp(keys[i].section, s) == 0)
			return true;
	}
	return false;
}

size_t config_key_count(void)
{
	return ARRAY_SIZE(keys);
}

void config_key_value(const struct config *cfg, size_t i, const char **section, const char **name,
                      char *buf, size_t n)
{
	const struct key_def *k = &keys[i];
	const void *f = (const char *)cfg + k->off;
	static const char *const pac[] = { [PAID_AFTER_CLOSE_MARK_PAID] = "mark_paid",
		                           [PAID_AFTER_CLOSE_REFUND] = "refund",
		                           [PAID_AFTER_CLOSE_HOLD] = "hold" };

	*section = k->section;
	*name = k->name;
	switch (k->type) {
	case K_STR:
	case K_PATH:
	case K_URL:
	case K_ENUM:
	case K_TZ:
		snprintf(buf, n, "%s", *(char *const *)f ? *(char *const *)f : "(unset)");
		return;
	case K_CONNINFO:
		if (*(char *const *)f) {
			char *shown = db_pg_redact(*(char *const *)f);

			snprintf(buf, n, "%s", shown);
			free(shown);
		} else {
			snprintf(buf, n, "(unset)");
		}
		return;
	case K_LONG:
		snprintf(buf, n, "%ld", *(const long *)f);
		return;
	case K_INT:
		snprintf(buf, n, "%d", *(const int *)f);
		return;
	case K_BOOL:
		snprintf(buf, n, "%s", *(const bool *)f ? "true" : "false");
		return;
	case K_DUR:
		snprintf(buf, n, "%llds", (long long)*(const int64_t *)f);
		return;
	case K_HHMM:
		snprintf(buf, n, "%02d:%02d", *(const int *)f / 3600, *(const int *)f / 60 % 60);
		return;
	case K_FEN:
		snprintf(buf, n, "%lld fen", (long long)*(const int64_t *)f);
		return;
	case K_YUAN: {
		char y[MONEY_FMT_LEN];

		money_format(*(const int64_t *)f, MONEY_SCALE_FEN, y, sizeof(y));
		snprintf(buf, n, "%s yuan", y);
		return;
	}
	case K_PAC:
		snprintf(buf, n, "%s", pac[cfg->paid_after_close]);
		return;
	}
	BUG("config key type %d", (int)k->type);
}

/* An unknown key, with the closest known key of its section, else of any. */
static int unknown_key(const char *where, const char *section, const char *k, struct wxr_err *err)
{
	struct suggest sg;
	const char *in = section;
	bool found;

	suggest_init(&sg, k);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (strcmp(keys[i].section, section) == 0)
			suggest_try(&sg, keys[i].name);
	}
	found = sg.best != NULL;
	for (size_t i = 0; !found && i < ARRAY_SIZE(keys); i++) {
		const char *was = sg.best;

		suggest_try(&sg, keys[i].name);
		if (sg.best != was)
			in = keys[i].section;
	}
	if (!sg.best)
		return err_set(err, WXR_ECONFIG, "%s: unknown key '%s' in [%s]", where, k, section);
	if (in == section)
		return err_set(err, WXR_ECONFIG, "%s: unknown key '%s' in [%s]; did you mean '%s'?",
		               where, k, section, sg.best);
	return err_set(err, WXR_ECONFIG, "%s: unknown key '%s' in [%s]; did you mean '%s' in [%s]?",
	               where, k, section, sg.best, in);
}

static int unknown_section(const char *where, const char *s, struct wxr_err *err)
{
	struct suggest sg;

	suggest_init(&sg, s);
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		suggest_try(&sg, keys[i].section);
	if (sg.best)
		return err_set(err, WXR_ECONFIG, "%s: unknown section '[%s]'; did you mean '[%s]'?",
		               where, s, sg.best);
	return err_set(err, WXR_ECONFIG, "%s: unknown section '[%s]'", where, s);
}

/* The sections that may be named, one per merchant (SPEC 10). */
static bool nameable(const char *section)
{
	return strcmp(section, "merchant") == 0 || strcmp(section, "policy") == 0;
}

/* What one pass of the file applies: the shared sections (pass 1), or the
 * named ones of cfg->merchant_name (pass 2). */
struct load {
	struct config *cfg;
	bool named_pass;
	/* pass 1: each [policy "NAME"] key's section name and line, to match
	 * against the merchants once they are all known */
	struct policy_ref {
		char *name;
		int line;
	} * policies;
	size_t n_policies;
};

static int on_section(void *ctx, const char *where, const char *section, const char *name,
                      struct wxr_err *err)
{
	(void)ctx;
	if (name && !nameable(section)) {
		char full[160];

		snprintf(full, sizeof(full), "%s \"%s\"", section, name);
		return unknown_section(where, full, err);
	}
	if (!section_known(section))
		return unknown_section(where, section, err);
	return 0;
}

static int merchant_by_name(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_merchants; i++) {
		if (strcmp(cfg->merchants[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

static struct config_merchant *merchant_slot(struct config *cfg, const char *name)
{
	int i = merchant_by_name(cfg, name);

	if (i >= 0)
		return &cfg->merchants[i];
	cfg->merchants = xrealloc(cfg->merchants, (cfg->n_merchants + 1) * sizeof(*cfg->merchants));
	cfg->merchants[cfg->n_merchants] = (struct config_merchant){ xstrdup(name), NULL };
	return &cfg->merchants[cfg->n_merchants++];
}

static const struct key_def *key_find(const char *section, const char *k)
{
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].name, k) == 0)
			return &keys[i];
	}
	return NULL;
}

/* A key of a named section in the shared pass: checked on a scratch config
 * (a bad value is an error whichever merchant runs), the mchid recorded. */
static int check_named(struct load *ld, const struct key_def *def, const char *section,
                       const char *name, const char *k, const char *v, const char *where,
                       int lineno, struct wxr_err *err)
{
	struct config *cfg = ld->cfg;
	struct config scratch;
	int r;

	if (strcmp(section, "policy") == 0) {
		ld->policies =
		        xreallocarray(ld->policies, ld->n_policies + 1, sizeof(*ld->policies));
		ld->policies[ld->n_policies++] = (struct policy_ref){ xstrdup(name), lineno };
	} else {
		struct config_merchant *m = merchant_slot(cfg, name);

		if (strcmp(k, "mchid") == 0)
			set_str(&m->mchid, v);
	}
	config_defaults(&scratch);
	set_str(&scratch.path, cfg->path);
	r = set_value(&scratch, def, v, where, err);
	config_release(&scratch);
	return r;
}

static int on_key(void *ctx, const char *where, int lineno, const char *section, const char *name,
                  const char *k, const char *v, struct wxr_err *err)
{
	struct load *ld = ctx;
	struct config *cfg = ld->cfg;
	const struct key_def *def = key_find(section, k);
	int r;

	if (!def)
		return unknown_key(where, section, k, err);
	if (!ld->named_pass && name)
		return check_named(ld, def, section, name, k, v, where, lineno, err);
	if (ld->named_pass && (!name || strcmp(name, cfg->merchant_name) != 0))
		return 0;
	r = set_value(cfg, def, v, where, err);
	if (r < 0)
		return r;
	if (def->off == offsetof(struct config, private_key))
		cfg->line_of_private_key = lineno;
	if (def->off == offsetof(struct config, apiv3_key_file))
		cfg->line_of_apiv3_key_file = lineno;
	if (def->off == offsetof(struct config, db_path))
		cfg->line_of_db_path = lineno;
	if (def->off == offsetof(struct config, db_url))
		cfg->line_of_db_url = cfg->db_url ? lineno : 0;
	return 0;
}

/* After the shared pass: every named merchant has its own mchid, no two
 * share one, and every [policy "NAME"] names a merchant. */
static int check_merchants(const struct load *ld, const char *path, struct wxr_err *err)
{
	const struct config *cfg = ld->cfg;

	for (size_t i = 0; i < cfg->n_merchants; i++) {
		const struct config_merchant *m = &cfg->merchants[i];

		if (!m->mchid)
			return err_set(err, WXR_ECONFIG, "%s: [merchant \"%s\"] mchid is not set",
			               path, m->name);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(cfg->merchants[j].mchid, m->mchid) == 0)
				return err_set(
				        err, WXR_ECONFIG,
				        "%s: [merchant \"%s\"] and [merchant \"%s\"] have the"
				        " same mchid %s: one section per merchant",
				        path, cfg->merchants[j].name, m->name, m->mchid);
		}
	}
	for (size_t i = 0; i < ld->n_policies; i++) {
		if (merchant_by_name(cfg, ld->policies[i].name) < 0)
			return err_set(err, WXR_ECONFIG,
			               "%s:%d: [policy \"%s\"] has no [merchant \"%s\"]", path,
			               ld->policies[i].line, ld->policies[i].name,
			               ld->policies[i].name);
	}
	return 0;
}

int config_merchant_find(const struct config *cfg, const char *name_or_mchid)
{
	int by_name = merchant_by_name(cfg, name_or_mchid);

	if (by_name >= 0)
		return by_name;
	for (size_t i = 0; i < cfg->n_merchants; i++) {
		if (cfg->merchants[i].mchid && strcmp(cfg->merchants[i].mchid, name_or_mchid) == 0)
			return (int)i;
	}
	return -1;
}

static int load_pass(struct load *ld, FILE *f, const char *path, bool named_pass,
                     struct wxr_err *err)
{
	const struct ini_cb cb = { .ctx = ld, .section = on_section, .key = on_key };

	ld->named_pass = named_pass;
	rewind(f);
	return ini_parse(f, path, &cb, err);
}

int config_load(struct config *cfg, const char *path, struct wxr_err *err)
{
	struct load ld = { .cfg = cfg };
	FILE *f;
	int r;

	f = fopen(path, "r");
	if (!f)
		return err_set(err, WXR_ECONFIG, "cannot open config '%s': %s", path,
		               strerror(errno));
	set_str(&cfg->path, path);
	r = load_pass(&ld, f, path, false, err);
	if (r >= 0)
		r = check_merchants(&ld, path, err);
	if (r >= 0 && cfg->merchant_name)
		r = load_pass(&ld, f, path, true, err);
	for (size_t i = 0; i < ld.n_policies; i++)
		free(ld.policies[i].name);
	free(ld.policies);
	if (r >= 0 && cfg->line_of_db_path && cfg->line_of_db_url)
		r = err_set(err, WXR_ECONFIG,
		            "%s:%d: [database] url and path (line %d) are exclusive: keep path for "
		            "a SQLite file or url for PostgreSQL",
		            path, cfg->line_of_db_url, cfg->line_of_db_path);
	/* the default job dir is the one beside the config, wherever it runs from */
	if (r >= 0 && strcmp(cfg->jobs_dir, CONFIG_DEFAULT_JOBS_DIR) == 0) {
		char *dir = resolve_path(cfg->path, CONFIG_DEFAULT_JOBS_DIR);

		free(cfg->jobs_dir);
		cfg->jobs_dir = dir;
	}
	fclose(f);
	return r;
}

int config_load_merchant(struct config *cfg, const struct config *shared, const char *name,
                         struct wxr_err *err)
{
	struct buf names = BUF_INIT;
	int i = config_merchant_find(shared, name);
	int r;

	if (i < 0) {
		for (size_t k = 0; k < shared->n_merchants; k++)
			buf_addf(&names, "%s%s (%s)", k ? ", " : "", shared->merchants[k].name,
			         shared->merchants[k].mchid);
		r = err_set(err, WXR_ECONFIG, "%s: no merchant '%s'; the config has %s",
		            shared->path, name,
		            shared->n_merchants ? names.data : "no [merchant \"NAME\"] section");
		buf_release(&names);
		return r;
	}
	set_str(&cfg->merchant_name, shared->merchants[i].name);
	return config_load(cfg, shared->path, err);
}

static int read_key_file(const struct config *cfg, const char *where, char out_key[33],
                         struct wxr_err *err)
{
	const char *path = cfg->apiv3_key_file;
	FILE *f = fopen(path, "r");
	struct stat st;
	char buf[128];
	size_t n;
	char *s;

	if (!f)
		return err_set(err, WXR_ECONFIG, "cannot open APIv3 key file '%s': %s", path,
		               strerror(errno));
	/* The same rule as the private key: it decrypts every notification and bill URL. */
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077)) {
		fclose(f);
		return err_set(
		        err, WXR_ECONFIG,
		        "%s:%d: apiv3_key_file '%s' is readable by group or others (mode %04o); "
		        "run: chmod 600 '%s'",
		        where, cfg->line_of_apiv3_key_file, path, (unsigned)(st.st_mode & 07777),
		        path);
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	s = ini_trim(buf);
	n = strlen(s);
	if (n != 32) {
		explicit_bzero(buf, sizeof(buf));
		return err_set(err, WXR_ECONFIG,
		               "APIv3 key in '%s' must be 32 characters (found %zu)", path, n);
	}
	memcpy(out_key, s, 33);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

int config_check_merchant(const struct config *cfg, char out_key[33], struct wxr_err *err)
{
	const char *where = cfg->path ? cfg->path : "(no config file)";
	const char *env;
	struct stat st;

	if (!cfg->mchid)
		return err_set(err, WXR_ECONFIG, "%s: [merchant] mchid is not set", where);
	if (!cfg->appid)
		return err_set(err, WXR_ECONFIG, "%s: [merchant] appid is not set", where);
	if (!cfg->serial_no)
		return err_set(err, WXR_ECONFIG, "%s: [merchant] serial_no is not set", where);
	if (!cfg->private_key)
		return err_set(err, WXR_ECONFIG, "%s: [merchant] private_key is not set", where);
	/* Neither wechatpay_public_key nor platform_cert_dir: platform-certificate mode with
	 * the certificates kept in the database (`wxrecon certs update` fetches them). */
	if (cfg->wechatpay_public_key && !cfg->wechatpay_public_key_id)
		return err_set(err, WXR_ECONFIG,
		               "%s: [merchant] wechatpay_public_key_id is not set", where);
	if (stat(cfg->private_key, &st) < 0)
		return err_set(err, WXR_ECONFIG, "%s:%d: private_key '%s': %s", where,
		               cfg->line_of_private_key, cfg->private_key, strerror(errno));
	if (st.st_mode & 077)
		return err_set(
		        err, WXR_ECONFIG,
		        "%s:%d: private_key '%s' is readable by group or others (mode %04o); "
		        "run: chmod 600 '%s'",
		        where, cfg->line_of_private_key, cfg->private_key,
		        (unsigned)(st.st_mode & 07777), cfg->private_key);
	env = cfg->apiv3_key_env;
	if (cfg->apiv3_key_file)
		return read_key_file(cfg, where, out_key, err);
	if (env && *env) {
		if (strlen(env) != 32)
			return err_set(
			        err, WXR_ECONFIG,
			        "environment WXRECON_APIV3_KEY must be 32 characters (found %zu)",
			        strlen(env));
		memcpy(out_key, env, 33);
		return 0;
	}
	return err_set(err, WXR_ECONFIG,
	               "%s: [merchant] apiv3_key_file is not set and WXRECON_APIV3_KEY is empty",
	               where);
}

void config_policy_hash(const struct config *cfg, char out[65])
{
	struct buf b = BUF_INIT;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	buf_addf(&b, "close_after=%lld\nclose_max_per_run=%ld\nmark_paid_on_missed_notify=%d\n",
	         (long long)cfg->close_after_s, cfg->close_max_per_run,
	         (int)cfg->mark_paid_on_missed_notify);
	buf_addf(&b, "abnormal_refund_type=%s\nabnormal_refund_max_per_run=%ld\n",
	         cfg->abnormal_refund_type, cfg->abnormal_refund_max_per_run);
	buf_addf(&b, "abnormal_refund_max_amount_per_run=%lld\napproval_above=%lld\n",
	         (long long)cfg->abnormal_refund_max_amount_per_run,
	         (long long)cfg->approval_above);
	buf_addf(&b, "paid_after_close=%d\ntimezone=%s\nrelease_time=%d\nmissing_after=%lld\n",
	         (int)cfg->paid_after_close, cfg->timezone, cfg->release_time_s,
	         (long long)cfg->missing_after_s);
	buf_addf(&b, "severity_above=%lld,%lld,%lld\nseverity_after=%lld,%lld,%lld\n",
	         (long long)cfg->severity_medium_above, (long long)cfg->severity_high_above,
	         (long long)cfg->severity_critical_above, (long long)cfg->severity_medium_after_s,
	         (long long)cfg->severity_high_after_s, (long long)cfg->severity_critical_after_s);
	buf_addf(&b, "due_warn_days=%ld\n", cfg->due_warn_days);
	EVP_Digest(b.data, b.len, md, &len, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < len && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	buf_release(&b);
}
