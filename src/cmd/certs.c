/*
 * cmd_certs.c - `wxrecon certs update` and `wxrecon certs list`: the WeChat
 * Pay platform certificates kept in the database (platform-certificate mode
 * without platform_cert_dir). The client loads them at every start
 * (cmd_wxclient.c), so `certs update` is the bootstrap and the rotation step.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "cmd/cmd.h"
#include "cmd/wxclient.h"
#include "db/audit.h"
#include "db/db_certs.h"

/* By enum db_cert_outcome. */
static const char *const outcome_names[] = { "stored", "replaced", "unchanged" };
static const char *const outcome_events[] = { "cert.store", "cert.replace", "cert.refresh" };

static int no_args(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = { { NULL, 0, NULL, 0 } };

	if (getopt_long(argc, argv, ":", opts, NULL) != -1)
		return cmd_usage_error(ctx, err, "unknown option '%s'", argv[optind - 1]);
	if (optind < argc)
		return cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* Upserts one certificate and audits it (inside the caller's transaction). */
static int store_one(struct ctx *ctx, const struct wxpay_platform_cert *pc, const char *now,
                     enum db_cert_outcome *out, struct wxr_err *err)
{
	struct db_cert c = { pc->serial_no, pc->effective_time, pc->expire_time, pc->pem, now };
	json_t *d = NULL;
	char *detail = NULL;
	int r = db_cert_store(ctx->db, &c, out, err);

	if (r < 0)
		return r;
	d = json_pack("{s:s, s:s, s:s}", "effective_time", pc->effective_time, "expire_time",
	              pc->expire_time, "outcome", outcome_names[*out]);
	detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
	r = audit_append(ctx->db, ctx->run_id, "wxrecon", outcome_events[*out], pc->serial_no,
	                 detail, err);
	free(detail);
	json_decref(d);
	return r;
}

static int run_update(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	struct wxpay *w = NULL;
	struct wxpay_cert_list l = { NULL, 0 };
	enum db_cert_outcome *outcomes = NULL;
	char now[CLOCK_RFC3339_LEN];
	json_t *arr = NULL;
	bool in_tx = false;
	int r;

	r = no_args(ctx, argc, argv, err);
	if (r < 0)
		return r;
	r = wxclient_open(ctx, &w, err);
	if (r < 0)
		return r;
	/* Decrypted with the APIv3 key and the answer verified, with a known
	 * certificate or (first download, rotation) the one it carries. */
	r = wxpay_certificates(w, &l, err);
	if (r < 0) {
		err_prefix(err, "certs update");
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		r = wxpay_add_platform_cert(w, l.items[i].pem, l.items[i].pem_len, err);
		if (r < 0) {
			err_prefix(err, "certs update: '%s'", l.items[i].serial_no);
			goto out;
		}
	}
	outcomes = xcalloc(l.n ? l.n : 1, sizeof(*outcomes));
	time_format_rfc3339(ctx->now, 0, now);
	r = db_begin(ctx->db, err);
	if (r < 0)
		goto out;
	in_tx = true;
	for (size_t i = 0; i < l.n; i++) {
		r = store_one(ctx, &l.items[i], now, &outcomes[i], err);
		if (r < 0) {
			err_prefix(err, "certs update: '%s'", l.items[i].serial_no);
			goto out;
		}
	}
	r = db_commit(ctx->db, err);
	if (r < 0)
		goto out;
	in_tx = false;
	if (ctx->json)
		arr = json_array();
	for (size_t i = 0; i < l.n; i++) {
		const struct wxpay_platform_cert *pc = &l.items[i];

		if (arr)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}", "serial_no",
			                                     pc->serial_no, "effective_time",
			                                     pc->effective_time, "expire_time",
			                                     pc->expire_time, "outcome",
			                                     outcome_names[outcomes[i]]));
		else
			printf("%s %s .. %s %s\n", pc->serial_no, pc->effective_time,
			       pc->expire_time, outcome_names[outcomes[i]]);
	}
	if (arr) {
		r = cmd_print_json(arr, err);
		arr = NULL;
	}
out:
	if (in_tx)
		db_rollback(ctx->db);
	json_decref(arr);
	free(outcomes);
	wxpay_cert_list_release(&l);
	wxpay_free(w);
	return r;
}

/* "valid", "expired" or "not yet valid" by the real clock (verification uses it). */
static const char *validity(const char *from, const char *to)
{
	int64_t now = clock_real_now(), a, b;

	if (time_parse_rfc3339(from, &a, NULL) < 0 || time_parse_rfc3339(to, &b, NULL) < 0)
		return "unknown";
	if (now >= b)
		return "expired";
	if (now < a)
		return "not yet valid";
	return "valid";
}

struct list_state {
	json_t *arr; /* with --json */
	int n;
};

static int list_one(void *arg, const struct db_cert *c, struct wxr_err *err)
{
	struct list_state *ls = arg;
	const char *status = validity(c->effective_time, c->expire_time);

	(void)err;
	if (ls->arr)
		json_array_append_new(ls->arr,
		                      json_pack("{s:s, s:s, s:s, s:s, s:s}", "serial_no",
		                                c->serial_no, "effective_time", c->effective_time,
		                                "expire_time", c->expire_time, "fetched_at",
		                                c->fetched_at, "status", status));
	else
		printf("%s %s .. %s %s (fetched %s)\n", c->serial_no, c->effective_time,
		       c->expire_time, status, c->fetched_at);
	ls->n++;
	return 0;
}

static int run_list(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	struct list_state ls = { NULL, 0 };
	int r;

	r = no_args(ctx, argc, argv, err);
	if (r < 0)
		return r;
	if (ctx->json)
		ls.arr = json_array();
	r = db_certs_each(ctx->db, list_one, &ls, err);
	if (r < 0)
		goto out;
	if (ls.arr) {
		r = cmd_print_json(ls.arr, err);
		ls.arr = NULL;
	} else if (ls.n == 0) {
		log_info("no platform certificates stored; 'wxrecon certs update' fetches "
		         "them");
	}
out:
	json_decref(ls.arr);
	return r;
}

static const char update_help[] =
        "Downloads GET /v3/certificates, decrypts each certificate with the APIv3 key,\n"
        "verifies the answer (with a stored certificate, or the first time with the one it\n"
        "carries, whose AES-GCM tag proves it came with our APIv3 key) and stores each one\n"
        "in the platform_certs table, audited. Every command that talks to WeChat Pay then\n"
        "verifies answers with them: the platform-certificate mode for a config without\n"
        "wechatpay_public_key and platform_cert_dir. Run it again to pick up a new\n"
        "certificate before the old one expires. A download that fails verification\n"
        "stores nothing (exit 1).\n";

static const char list_help[] =
        "Lists the WeChat Pay platform certificates in the database: serial, validity,\n"
        "whether they are valid now, and when they were fetched. --json for a JSON array.\n";

static const struct cmd certs_subs[] = {
	{
	        .name = "update",
	        .run = run_update,
	        .flags = CMD_DB,
	        .usage = "certs update",
	        .summary = "download the platform certificates into the database",
	        .help = update_help,
	},
	{
	        .name = "list",
	        .run = run_list,
	        .flags = CMD_DB,
	        .usage = "certs list",
	        .summary = "list the stored platform certificates",
	        .help = list_help,
	},
	{ .name = NULL },
};

const struct cmd cmd_certs = {
	.name = "certs",
	.subs = certs_subs,
	.usage = "certs update|list",
	.summary = "the WeChat Pay platform certificates",
};
