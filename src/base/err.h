/* err.h - struct wxr_err helpers. */
#ifndef WXR_ERR_H
#define WXR_ERR_H

#include "base/compat.h"
#include "wxrecon.h"

/* Formats the message into err (if not NULL), stores code, returns code. */
int err_set(struct wxr_err *err, int code, const char *fmt, ...) WXR_PRINTF(3, 4);

/* Prefixes "<fmt>: " to the message already in err; returns err->code. */
int err_prefix(struct wxr_err *err, const char *fmt, ...) WXR_PRINTF(2, 3);

/* Clears err. */
void err_clear(struct wxr_err *err);

#endif
