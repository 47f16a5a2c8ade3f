/* wxclient.h - the WeChat Pay client as the commands use it. */
#ifndef WXR_CMD_WXCLIENT_H
#define WXR_CMD_WXCLIENT_H

#include "cmd/cmd.h"
#include "core/wxclient.h"
#include "wxpay.h"

/* wxclient_new() with the command's config, database and run. */
static inline int wxclient_open(struct ctx *ctx, struct wxpay **out, struct wxr_err *err)
{
	return wxclient_new(&ctx->cfg, ctx->db, ctx->run_id, out, err);
}

#endif
