/* fsutil.h - small file-system helpers. */
#ifndef WXR_FSUTIL_H
#define WXR_FSUTIL_H

#include <sys/types.h>

#include "wxrecon.h"

/* mkdir -p: creates path and its missing parents with mode. */
int fs_mkdir_p(const char *path, mode_t mode, struct wxr_err *err);

#endif
