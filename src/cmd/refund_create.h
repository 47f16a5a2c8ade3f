/*
 * refund_create.h - `wxrecon refund create` (refund_create.c), an entry of
 * the sub-command table of `refund` (refund.c).
 */
#ifndef WXR_CMD_REFUND_CREATE_H
#define WXR_CMD_REFUND_CREATE_H

#include "cmd/cmd.h"

int cmd_refund_create_run(struct ctx *ctx, int argc, char **argv, struct wxr_err *err);
extern const char cmd_refund_create_usage[];
extern const char cmd_refund_create_summary[];
extern const char cmd_refund_create_help[];

#endif
