/*
 * certs.h - the WeChat Pay platform certificates kept in the database (the
 * platform-certificate mode without platform_cert_dir): downloaded and
 * stored by `certs update`, loaded into every client (core/wxclient.c).
 */
#ifndef WXR_CERTS_H
#define WXR_CERTS_H

#include <stdint.h>

#include "db/db_certs.h"
#include "wxpay.h"

/* What certs_update did with each certificate, as the audit names it. */
const char *certs_outcome_name(enum db_cert_outcome o);

/*
 * Downloads the platform certificates (the answer verified with a known one,
 * or on a first download or a rotation with the one it carries), adds them
 * to w, and stores each with an audit entry (cert.store, cert.replace,
 * cert.refresh) in one transaction at now. *out_list and *out_outcomes (one
 * per certificate) go to the caller: wxpay_cert_list_release() and free().
 */
int certs_update(struct wxpay *w, struct db *db, int64_t run_id, int64_t now,
                 struct wxpay_cert_list *out_list, enum db_cert_outcome **out_outcomes,
                 struct wxr_err *err);

/* Adds every stored certificate to w. */
int certs_load(struct wxpay *w, struct db *db, struct wxr_err *err);

/* Calls fn for every stored certificate (db_certs_each's order and rules). */
int certs_each(struct db *db, int (*fn)(void *arg, const struct db_cert *c, struct wxr_err *err),
               void *arg, struct wxr_err *err);

#endif
