/* cmd_unlock.c - `wxrecon unlock [--force]`: release a run lock whose holder is gone. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "base/err.h"
#include "cmd/cmd.h"
#include "core/jobrun.h"

static int run_unlock(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	bool force = false, released = false;
	char who[512] = "";
	int c;
	int r;

	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (c == 'f') {
			force = true;
			continue;
		}
		r = cmd_option(ctx, NULL, c, argv, err);
		if (r < 0)
			return r;
	}
	if (optind < argc)
		return cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[optind]);
	r = runlock_release_stale(ctx->db, ctx->mchid, force, who, sizeof(who), &released, err);
	if (r < 0)
		return err_prefix(err, "unlock");
	if (ctx->json)
		return cmd_print_json(json_pack("{s:b, s:o}", "released", released, "holder",
		                                released ? json_string(who) : json_null()),
		                      err);
	if (released)
		printf("released the lock: %s (audited)\n", who);
	else
		printf("no lock is held\n");
	return 0;
}

static const char unlock_help[] =
        "Releases the run lock when its holder is gone: a dead process on this host, a pid\n"
        "now used by another process, or a holder that cannot be checked from here (another\n"
        "host, container or pod) and has not refreshed its heartbeat for longer than its\n"
        "limit (such a lock is also taken over by the next run, audited). --force releases\n"
        "the lock of a holder that cannot be checked even while its heartbeat is recent:\n"
        "use it once you know that holder is gone. A live holder on this host is never\n"
        "released; the command names it and exits 75, as it does for a holder that cannot\n"
        "be checked without --force. Every release is written to the audit log.\n";

const struct cmd cmd_unlock = {
	.name = "unlock",
	.run = run_unlock,
	.flags = CMD_DB,
	.usage = "unlock [--force]",
	.summary = "release a run lock whose holder is gone (audited)",
	.help = unlock_help,
};
