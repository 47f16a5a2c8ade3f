/*
 * wxrecon.h - public API of libwxrecon.
 *
 * Error convention: fallible functions return an int that is >= 0 on success
 * and a negative WXR_E* code on failure; the last parameter is a
 * struct wxr_err * that receives one human-readable line.
 */
#ifndef WXRECON_H
#define WXRECON_H

#include <stddef.h>
#include <stdint.h>

#define WXR_VERSION "0.1.0"

enum wxr_status {
	WXR_OK = 0,
	WXR_EFAIL = -1,       /* generic failure */
	WXR_EUSAGE = -2,      /* bad command line */
	WXR_ECONFIG = -3,     /* bad configuration */
	WXR_EIO = -4,         /* file or stream I/O */
	WXR_EDB = -5,         /* database */
	WXR_ENET = -6,        /* network, timeout, transport */
	WXR_ESIG = -7,        /* signature / integrity verification failed */
	WXR_EDATA = -8,       /* malformed input data */
	WXR_EAPI = -9,        /* WeChat Pay answered with an error */
	WXR_ELOCKED = -10,    /* another run holds the lock */
	WXR_ENOTFOUND = -11,  /* the thing asked for does not exist */
	WXR_ETOOBIG = -12,    /* a size cap was hit */
	WXR_EATTENTION = -13, /* done, but a person must look (exit 3) */
	WXR_EBUSY = -14,      /* database busy or locked, a serialization failure: retryable */
	WXR_EUNIQUE = -15     /* database unique or primary key violation */
};

struct wxr_err {
	int code;
	char msg[1024];
};

#define WXR_ERR_INIT      \
	{                 \
		0,        \
		{         \
			0 \
		}         \
	}

/* Static string naming a status code. */
const char *wxr_strerror(int code);

/* Exit code of SPEC section 2 for a status: 0, 1, 2, 3 or 75 (locked). */
int wxr_exit_code(int status);

#endif
