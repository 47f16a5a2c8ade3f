/* cmd_refund.c - `wxrecon refund ...`: refunds filed by hand. */
#include "cmd.h"

static const struct cmd refund_subs[] = {
	CMD_REFUND_CREATE_ENTRY,
	{ NULL, NULL, NULL, 0, NULL, NULL, NULL },
};

const struct cmd cmd_refund = {
	"refund", NULL, refund_subs, 0, "refund create ...", "refunds by hand", NULL,
};
