/* wxclient.h - the WeChat Pay client as wxrecon builds it from its config. */
#ifndef WXR_CORE_WXCLIENT_H
#define WXR_CORE_WXCLIENT_H

#include <stdint.h>

#include "core/config.h"
#include "db/db.h"
#include "wxpay.h"

/*
 * Checks the merchant config (exit 2 on a missing or unsafe key) and builds
 * the client: keys from cfg, platform certificates from platform_cert_dir and
 * (with db) the platform_certs table; with db every call is audited, under
 * run_id (0: none).
 */
int wxclient_new(const struct config *cfg, struct db *db, int64_t run_id, struct wxpay **out,
                 struct wxr_err *err);

#endif
