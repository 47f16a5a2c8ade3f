/* cmd_config.c - `wxrecon config check`: load and check a configuration. */
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "cmd/cmd.h"
#include "core/store.h"
#include "wx/http.h"

static const char *verifying(const struct config *cfg)
{
	return cfg->wechatpay_public_key ? "WeChat Pay public key" : "platform certificates";
}

/* Several merchants (SPEC 10): loads and checks each one's keys as a run of
 * it would, and lists them (JSON: into *out_list). */
static int check_each(struct ctx *ctx, json_t *list, struct buf *text, struct wxr_err *err)
{
	for (size_t i = 0; i < ctx->cfg.n_merchants; i++) {
		const char *name = ctx->cfg.merchants[i].name;
		struct config m;
		char key[33];
		int r;

		config_defaults(&m);
		m.apiv3_key_env = ctx->cfg.apiv3_key_env;
		r = config_load_merchant(&m, &ctx->cfg, name, err);
		if (r == 0)
			r = config_check_merchant(&m, key, err);
		OPENSSL_cleanse(key, sizeof(key));
		if (r == 0 && http_url_check(m.base_url, err) < 0)
			r = err_prefix(err, "[api] base_url");
		if (r < 0) {
			config_release(&m);
			return err_prefix(err, "config '%s': merchant '%s'", ctx->cfg.path, name);
		}
		if (list)
			json_array_append_new(list, json_pack("{s:s, s:s, s:s?, s:s}", "name", name,
			                                      "mchid", m.mchid, "appid", m.appid,
			                                      "verifying", verifying(&m)));
		buf_addf(text, "  merchant   %s: %s (appid %s), %s\n", name, m.mchid,
		         m.appid ? m.appid : "(unset)", verifying(&m));
		config_release(&m);
	}
	return 0;
}

static int run_check(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	struct buf merchants = BUF_INIT;
	json_t *list = NULL;
	char key[33];
	char policy[65];
	char server[600] = "";
	char *shown = NULL;
	const char *database = ctx->db_path;
	int r;

	if (argc > 1)
		return cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[1]);
	if (!ctx->have_config)
		return err_set(err, WXR_ECONFIG,
		               "no config file: give -c FILE, set WXRECON_CONFIG, or create "
		               "./wxrecon.conf or %s",
		               ctx->sysconf);
	if (ctx->cfg.n_merchants > 0) {
		list = ctx->json ? json_array() : NULL;
		r = check_each(ctx, list, &merchants, err);
	} else {
		r = config_check_merchant(&ctx->cfg, key, err);
	}
	OPENSSL_cleanse(key, sizeof(key));
	if (r < 0)
		goto out;
	/* every real call refuses plain http to anything but the simulator: say so now */
	if (http_url_check(ctx->cfg.base_url, err) < 0) {
		r = err_prefix(err, "config '%s': [api] base_url", ctx->cfg.path);
		goto out;
	}
	if (ctx->cfg.notify_url && http_url_check(ctx->cfg.notify_url, err) < 0) {
		r = err_prefix(err, "config '%s': [notify] url", ctx->cfg.path);
		goto out;
	}
	/* a PostgreSQL store: connect, and say which server answered (no password shown) */
	if (ctx->db_url) {
		r = store_probe(ctx->db_path, server, sizeof(server), err);
		if (r < 0)
			goto out;
		shown = store_redact(ctx->db_path);
		database = server;
	}
	config_policy_hash(&ctx->cfg, policy);
	if (ctx->json) {
		json_t *keys = json_object();

		for (size_t i = 0; i < config_key_count(); i++) {
			const char *section, *name;
			char value[1024], full[128];

			config_key_value(&ctx->cfg, i, &section, &name, value, sizeof(value));
			snprintf(full, sizeof(full), "%s.%s", section, name);
			json_object_set_new(keys, full, json_string(value));
		}
		json_t *doc = json_pack("{s:s, s:s?, s:s?, s:s, s:s, s:s, s:s, s:o}", "config",
		                        ctx->cfg.path, "mchid", ctx->cfg.mchid, "appid",
		                        ctx->cfg.appid, "base_url", ctx->cfg.base_url, "database",
		                        shown ? shown : ctx->db_path, "timezone", ctx->cfg.timezone,
		                        "policy_hash", policy, "keys", keys);

		if (shown)
			json_object_set_new(doc, "database_server", json_string(server));
		if (list) {
			json_object_set_new(doc, "merchants", list);
			list = NULL;
		}
		free(shown);
		r = cmd_print_json(doc, err);
		goto out;
	}
	free(shown);
	printf("config '%s' is usable\n", ctx->cfg.path);
	if (ctx->cfg.n_merchants > 0) {
		fputs(merchants.data, stdout);
	} else {
		printf("  merchant   %s (appid %s)\n", ctx->cfg.mchid, ctx->cfg.appid);
		printf("  verifying  %s\n", verifying(&ctx->cfg));
	}
	printf("  api        %s\n", ctx->cfg.base_url);
	printf("  database   %s\n", database);
	printf("  timezone   %s\n", ctx->cfg.timezone);
	printf("  policy     %.16s\n", policy);
	printf("every key as it resolved (set or default):\n");
	for (size_t i = 0; i < config_key_count(); i++) {
		const char *section, *name;
		char value[1024];

		config_key_value(&ctx->cfg, i, &section, &name, value, sizeof(value));
		printf("  [%s] %s = %s\n", section, name, value);
	}
	r = 0;
out:
	json_decref(list);
	buf_release(&merchants);
	return r;
}

static const char check_help[] =
        "Reads the configuration, checks every value, that the merchant keys are set,\n"
        "that the private key is not readable by group or others, that the APIv3 key\n"
        "is 32 characters, and that [api] base_url and [notify] url are https (plain\n"
        "http only to 127.0.0.1, localhost or [::1]). Prints a summary and every key as\n"
        "it resolved (set or default), without any secret. The file: -c FILE, else\n"
        "$WXRECON_CONFIG, else ./wxrecon.conf, else the system one (wxrecon -h).\n"
        "With a PostgreSQL store ([database] url, or --db postgresql://...) it connects\n"
        "and reports the server: 'PostgreSQL 15.4 at HOST:PORT/DBNAME'. The password comes\n"
        "from PGPASSWORD, ~/.pgpass or a service file, never from the config.\n"
        "With several merchants ([merchant \"NAME\"] sections) it checks each one's keys,\n"
        "its [policy \"NAME\"] over [policy], and lists them.\n";

static const struct cmd config_subs[] = {
	{
	        .name = "check",
	        .run = run_check,
	        .flags = CMD_STORE,
	        .usage = "config check",
	        .summary = "load the config and check the merchant keys (no WeChat Pay call)",
	        .help = check_help,
	},
	{ .name = NULL },
};

const struct cmd cmd_config = {
	.name = "config",
	.subs = config_subs,
	.usage = "config check",
	.summary = "the configuration",
};
