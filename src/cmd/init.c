/* cmd_init.c - `wxrecon init`: create or migrate the database. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "base/err.h"
#include "base/log.h"
#include "cmd/cmd.h"

static int run(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	int applied = 0;
	int r;

	if (argc > 1)
		return cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[1]);
	r = db_migrate(ctx->db, &applied, err);
	if (r < 0)
		return r;
	if (ctx->json)
		return cmd_print_json(
		        json_pack("{s:s, s:i}", "database", ctx->db_path, "applied", applied), err);
	else if (applied)
		log_info("database '%s': applied %d migration(s)", ctx->db_path, applied);
	else
		log_info("database '%s' is up to date", ctx->db_path);
	return 0;
}

static const char init_help[] =
        "Creates the database file when it does not exist and applies, in order, every\n"
        "schema migration it has not recorded yet, each in its own transaction. Running\n"
        "it again is harmless.\n";

const struct cmd cmd_init = {
	.name = "init",
	.run = run,
	.flags = CMD_DB_CREATE,
	.usage = "init",
	.summary = "create or migrate the database (schema/*.sql, in order, recorded)",
	.help = init_help,
};
