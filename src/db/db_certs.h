/*
 * db_certs.h - the WeChat Pay platform certificates kept in the database
 * (`platform_certs`: the platform-certificate mode without platform_cert_dir).
 */
#ifndef WXR_DB_CERTS_H
#define WXR_DB_CERTS_H

#include "db/db.h"

struct db_cert {
	const char *serial_no;
	const char *effective_time; /* RFC 3339, as WeChat Pay sent it */
	const char *expire_time;
	const char *pem;
	const char *fetched_at; /* when it was stored or last refreshed */
};

enum db_cert_outcome { DB_CERT_STORED, DB_CERT_REPLACED, DB_CERT_UNCHANGED };

/*
 * Upserts c (its fetched_at is the time of this download) and says whether it was
 * new, replaced a different one under the same serial, or was the same. Inside the
 * caller's transaction; audits nothing (the caller does).
 */
int db_cert_store(struct db *db, const struct db_cert *c, enum db_cert_outcome *out,
                  struct wxr_err *err);

/*
 * Calls fn for every stored certificate, oldest effective_time first (then by serial).
 * The strings are valid during the call only. A negative return of fn stops the walk
 * and is returned.
 */
int db_certs_each(struct db *db, int (*fn)(void *arg, const struct db_cert *c, struct wxr_err *err),
                  void *arg, struct wxr_err *err);

#endif
