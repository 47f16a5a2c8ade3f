/*
 * cmd_refund.c - `wxrecon refund ...` (a sub-command table; `refund abnormal`
 * lives here).
 *
 * refund abnormal OUT_REFUND_NO --user-card --bank-type T --account-file F
 * --name-file F files an abnormal refund to the customer's debit card by
 * hand. The card number and the name are read from files that only their
 * owner may read (one trailing newline is dropped), handed to the client,
 * which encrypts them for WeChat Pay and wipes them, and wiped here too: they
 * are never stored, logged, printed, audited or put in the action's params.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "cmd/cmd.h"
#include "cmd/refund_create.h"
#include "cmd/wxclient.h"
#include "core/jobrun.h"
#include "core/sweep.h"
#include "wx/crypto.h"

#define SECRET_MAX 512 /* bytes of a card number or a name file */

/* The debit cards WeChat Pay accepts for USER_BANK_CARD (PROTOCOL 4.6). */
static const char *const bank_types[] = { "CMB_DEBIT",   "COMM_DEBIT", "ABC_DEBIT",  "CCB_DEBIT",
	                                  "ICBC_DEBIT",  "BOC_DEBIT",  "PAB_DEBIT",  "SPDB_DEBIT",
	                                  "CITIC_DEBIT", "CEB_DEBIT",  "CMBC_DEBIT", "CIB_DEBIT",
	                                  "GDB_DEBIT",   "PSBC_DEBIT", "NBCB_DEBIT", NULL };

/*
 * Reads a secret file into buf (NUL-terminated, one trailing "\n" or "\r\n"
 * dropped). Refuses a file that group or others may read. Messages name the
 * file, never its content.
 */
static int read_secret(const char *path, const char *opt, char *buf, size_t cap,
                       struct wxr_err *err)
{
	struct stat sb;
	size_t len = 0;
	ssize_t n;
	int fd;
	int r = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, WXR_EIO, "%s: cannot open '%s': %s", opt, path,
		               strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		r = err_set(err, WXR_EUSAGE, "%s: '%s' is not a regular file", opt, path);
		goto out;
	}
	if (sb.st_mode & (S_IRWXG | S_IRWXO)) {
		r = err_set(err, WXR_EUSAGE,
		            "%s: '%s' can be read by group or others; 'chmod 600 %s' first", opt,
		            path, path);
		goto out;
	}
	while (len < cap && (n = read(fd, buf + len, cap - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = err_set(err, WXR_EIO, "%s: cannot read '%s': %s", opt, path,
			            strerror(errno));
			goto out;
		}
		len += (size_t)n;
	}
	if (len == cap) {
		r = err_set(err, WXR_EUSAGE, "%s: '%s' is longer than %zu bytes", opt, path,
		            cap - 1);
		goto out;
	}
	if (len && buf[len - 1] == '\n') {
		len--;
		if (len && buf[len - 1] == '\r')
			len--;
	}
	buf[len] = '\0';
	if (!len) {
		r = err_set(err, WXR_EUSAGE, "%s: '%s' is empty", opt, path);
		goto out;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) {
			r = err_set(err, WXR_EUSAGE,
			            "%s: '%s' has a control character or more than one line", opt,
			            path);
			goto out;
		}
	}
out:
	close(fd);
	if (r < 0)
		crypto_wipe(buf, cap);
	return r;
}

static bool card_number_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 8 || n > 32)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
	}
	return true;
}

static bool bank_type_ok(const char *t)
{
	for (const char *const *b = bank_types; *b; b++) {
		if (strcmp(*b, t) == 0)
			return true;
	}
	return false;
}

static void print_result(struct ctx *ctx, const char *orn, const struct sweep_result *res)
{
	if (ctx->json) {
		json_t *items = json_array();
		json_t *ids = json_array();
		struct wxr_err jerr = WXR_ERR_INIT;

		for (size_t i = 0; i < res->nitems; i++)
			json_array_append_new(
			        items, json_pack("{s:s, s:s, s:I}", "what", res->items[i].what,
			                         "detail", res->items[i].detail, "action_id",
			                         (json_int_t)res->items[i].action_id));
		for (size_t i = 0; i < res->nactions; i++)
			json_array_append_new(ids, json_integer(res->actions[i]));
		if (cmd_print_json(json_pack("{s:s, s:I, s:I, s:o, s:o, s:s?}", "out_refund_no",
		                             orn, "abnormal_refunds",
		                             (json_int_t)res->abnormal_refunds, "failed",
		                             (json_int_t)res->failed, "actions", ids, "items",
		                             items, "stopped", res->stopped ? res->stop : NULL),
		                   &jerr) < 0)
			log_warn("%s", jerr.msg);
		return;
	}
	for (size_t i = 0; i < res->nitems; i++) {
		printf("%-16s %s %s", res->items[i].what, orn, res->items[i].detail);
		if (res->items[i].action_id)
			printf(" [action %" PRId64 "]", res->items[i].action_id);
		printf("\n");
	}
}

static int run_abnormal(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	static const struct option opts[] = {
		{ "user-card", no_argument, NULL, 'u' },
		{ "bank-type", required_argument, NULL, 'b' },
		{ "account-file", required_argument, NULL, 'a' },
		{ "name-file", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	char account[SECRET_MAX + 1], name[SECRET_MAX + 1];
	const char *bank = NULL, *account_file = NULL, *name_file = NULL, *orn;
	const char *who = getenv("USER");
	bool user_card = false;
	struct runlock rl = { .run_id = 0 };
	struct sweep_user_card card;
	struct sweep_opts so;
	struct sweep_api api;
	struct sweep_result res;
	struct wxpay *w = NULL;
	int c;
	int r;

	memset(account, 0, sizeof(account));
	memset(name, 0, sizeof(name));
	memset(&res, 0, sizeof(res));
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			user_card = true;
			break;
		case 'b':
			bank = optarg;
			break;
		case 'a':
			account_file = optarg;
			break;
		case 'n':
			name_file = optarg;
			break;
		default:
			r = cmd_option(ctx, NULL, c, argv, err);
			if (r < 0)
				return r;
			break;
		}
	}
	if (optind >= argc)
		return cmd_usage_error(ctx, err, "give the OUT_REFUND_NO");
	if (optind + 1 < argc)
		return cmd_usage_error(ctx, err, "unexpected argument '%s'", argv[optind + 1]);
	orn = argv[optind];
	if (!user_card)
		return cmd_usage_error(ctx, err,
		                       "only --user-card is filed by hand; abnormal refunds to the "
		                       "merchant's card are filed by 'wxrecon sweep refunds'");
	if (!bank || !account_file || !name_file)
		return cmd_usage_error(
		        ctx, err, "--user-card needs --bank-type, --account-file and --name-file");
	if (!bank_type_ok(bank))
		return cmd_usage_error(ctx, err,
		                       "--bank-type '%s' is not one of the debit cards "
		                       "WeChat Pay takes (CMB_DEBIT, ICBC_DEBIT, ...)",
		                       bank);
	r = read_secret(account_file, "--account-file", account, sizeof(account), err);
	if (r < 0)
		goto out;
	if (!card_number_ok(account)) {
		r = err_set(err, WXR_EUSAGE,
		            "--account-file: '%s' does not hold a card number "
		            "(8 to 32 digits, nothing else)",
		            account_file);
		goto out;
	}
	r = read_secret(name_file, "--name-file", name, sizeof(name), err);
	if (r < 0)
		goto out;
	r = wxclient_open(ctx, &w, err);
	if (r < 0)
		goto out;
	r = cmd_runlock_take(ctx, &rl, 0, err);
	if (r < 0)
		goto out;
	sweep_api_wxpay(&api, w);
	memset(&so, 0, sizeof(so));
	so.mchid = ctx->mchid;
	so.cfg = &ctx->cfg;
	so.now = ctx->now;
	so.run_id = ctx->run_id;
	so.who = who && *who ? who : "unknown";
	so.older_than_s = -1;
	memset(&card, 0, sizeof(card));
	card.out_refund_no = orn;
	card.bank_type = bank;
	card.bank_account = account;
	card.real_name = name;
	r = sweep_refund_user_card(ctx->db, &api, &so, &card, &res, err);
	if (r < 0) {
		err_prefix(err, "refund abnormal '%s'", orn);
		goto out;
	}
	print_result(ctx, orn, &res);
	r = sweep_status(&res, "refund abnormal", err);
out:
	crypto_wipe(account, sizeof(account));
	crypto_wipe(name, sizeof(name));
	runlock_end(&rl, r);
	sweep_result_release(&res);
	wxpay_free(w);
	return r;
}

static const char abnormal_help[] =
        "For a refund WeChat Pay reports ABNORMAL (the original path failed): files\n"
        "apply-abnormal-refund with type USER_BANK_CARD. The card number and the\n"
        "holder's name are read from files only their owner can read (chmod 600; one\n"
        "trailing newline is dropped), encrypted for WeChat Pay and wiped: they are\n"
        "never stored, logged, printed or audited. --bank-type is one of CMB_DEBIT,\n"
        "COMM_DEBIT, ABC_DEBIT, CCB_DEBIT, ICBC_DEBIT, BOC_DEBIT, PAB_DEBIT,\n"
        "SPDB_DEBIT, CITIC_DEBIT, CEB_DEBIT, CMBC_DEBIT, CIB_DEBIT, GDB_DEBIT,\n"
        "PSBC_DEBIT, NBCB_DEBIT. The refund must be in the ledger.\n";

static const struct cmd refund_subs[] = {
	{
	        .name = "abnormal",
	        .run = run_abnormal,
	        .flags = CMD_DB,
	        .usage = "refund abnormal OUT_REFUND_NO --user-card --bank-type T --account-file F "
	                 "--name-file F",
	        .summary = "file an abnormal refund to the customer's debit card",
	        .help = abnormal_help,
	},
	{ .name = "create",
	  .run = cmd_refund_create_run,
	  .flags = CMD_DB,
	  .usage = cmd_refund_create_usage,
	  .summary = cmd_refund_create_summary,
	  .help = cmd_refund_create_help },
	{ .name = NULL },
};

const struct cmd cmd_refund = {
	.name = "refund",
	.subs = refund_subs,
	.usage = "refund abnormal|create ...",
	.summary = "refunds filed by hand",
};
