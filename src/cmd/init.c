/* cmd_init.c - `wxrecon init`: create or migrate the database. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"
#include "base/log.h"
#include "cmd/cmd.h"
#include "core/auditkey.h"

static int run(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	struct auditkey_init_result ki;
	char *key_path = NULL;
	int applied = 0;
	int r;

	if (argc > 1)
		return cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[1]);
	r = store_migrate(ctx->db, &applied, err);
	if (r < 0)
		return r;
	key_path = auditkey_path(ctx->cfg.audit_key_file, ctx->db_path, ctx->db_url, ctx->cfg.path);
	r = auditkey_init(ctx->db, key_path, &ki, err);
	if (r < 0)
		goto out;
	if (ki.restored_triggers[0])
		log_warn("database '%s': restored the audit log's trigger(s) %s, which were missing"
		         " or altered: see 'wxrecon audit --verify'",
		         ctx->db_path, ki.restored_triggers);
	if (ki.key_made)
		log_info(
		        "made the audit key '%s': keep it owner-only and in the backup of the keys",
		        key_path);
	if (ctx->json)
		r = cmd_print_json(json_pack("{s:s, s:i, s:s, s:b, s:s}", "database", ctx->db_path,
		                             "applied", applied, "audit_key", key_path,
		                             "audit_key_made", ki.key_made, "restored_triggers",
		                             ki.restored_triggers),
		                   err);
	else if (applied)
		log_info("database '%s': applied %d migration(s)", ctx->db_path, applied);
	else
		log_info("database '%s' is up to date", ctx->db_path);
out:
	free(key_path);
	return r;
}

static const char init_help[] =
        "Creates the database file when it does not exist and applies, in order, every\n"
        "schema migration it has not recorded yet, each in its own transaction. Running\n"
        "it again is harmless. It also makes the audit key ([audit] key_file, by default\n"
        "audit.key beside the database) when there is none and the log was never keyed,\n"
        "and recreates the audit log's append-only triggers when they were dropped.\n";

const struct cmd cmd_init = {
	.name = "init",
	.run = run,
	.flags = CMD_DB_CREATE | CMD_STORE,
	.usage = "init",
	.summary = "create or migrate the database (schema/*.sql, in order, recorded)",
	.help = init_help,
};
