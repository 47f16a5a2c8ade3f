/* cmd_wxclient.h - the WeChat Pay client as the commands use it. */
#ifndef WXR_CMD_WXCLIENT_H
#define WXR_CMD_WXCLIENT_H

#include "cmd/cmd.h"
#include "wxpay.h"

/*
 * Checks the merchant config (exit 2 on a missing or unsafe key) and builds
 * the client: keys from the config, platform certificates from
 * platform_cert_dir and the platform_certs table, every call audited.
 */
int wxclient_open(struct ctx *ctx, struct wxpay **out, struct wxr_err *err);

#endif
