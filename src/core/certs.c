/*
 * certs.c - downloading, storing and loading the platform certificates.
 */
#include "core/certs.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/xalloc.h"
#include "db/audit.h"

/* By enum db_cert_outcome. */
static const char *const outcome_names[] = { "stored", "replaced", "unchanged" };
static const char *const outcome_events[] = { "cert.store", "cert.replace", "cert.refresh" };

const char *certs_outcome_name(enum db_cert_outcome o)
{
	return outcome_names[o];
}

/* Upserts one certificate and audits it (inside the caller's transaction). */
static int store_one(struct db *db, int64_t run_id, const struct wxpay_platform_cert *pc,
                     const char *now, enum db_cert_outcome *out, struct wxr_err *err)
{
	struct db_cert c = { pc->serial_no, pc->effective_time, pc->expire_time, pc->pem, now };
	json_t *d = NULL;
	char *detail = NULL;
	int r = db_cert_store(db, &c, out, err);

	if (r < 0)
		return r;
	d = json_pack("{s:s, s:s, s:s}", "effective_time", pc->effective_time, "expire_time",
	              pc->expire_time, "outcome", outcome_names[*out]);
	detail = d ? json_dumps(d, JSON_COMPACT) : NULL;
	r = audit_append(db, run_id, "wxrecon", outcome_events[*out], pc->serial_no, detail, err);
	free(detail);
	json_decref(d);
	return r;
}

int certs_update(struct wxpay *w, struct db *db, int64_t run_id, int64_t now_ts,
                 struct wxpay_cert_list *out_list, enum db_cert_outcome **out_outcomes,
                 struct wxr_err *err)
{
	struct wxpay_cert_list l = { NULL, 0 };
	enum db_cert_outcome *outcomes = NULL;
	char now[CLOCK_RFC3339_LEN];
	bool in_tx = false;
	int r;

	/* Decrypted with the APIv3 key and the answer verified, with a known
	 * certificate or (first download, rotation) the one it carries. */
	r = wxpay_certificates(w, &l, err);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < l.n; i++) {
		r = wxpay_add_platform_cert(w, l.items[i].pem, l.items[i].pem_len, err);
		if (r < 0) {
			err_prefix(err, "'%s'", l.items[i].serial_no);
			goto out;
		}
	}
	outcomes = xcalloc(l.n ? l.n : 1, sizeof(*outcomes));
	time_format_rfc3339(now_ts, 0, now);
	r = db_begin(db, err);
	if (r < 0)
		goto out;
	in_tx = true;
	for (size_t i = 0; i < l.n; i++) {
		r = store_one(db, run_id, &l.items[i], now, &outcomes[i], err);
		if (r < 0) {
			err_prefix(err, "'%s'", l.items[i].serial_no);
			goto out;
		}
	}
	r = db_commit(db, err);
	in_tx = false;
out:
	if (in_tx)
		db_rollback(db);
	if (r < 0) {
		free(outcomes);
		wxpay_cert_list_release(&l);
		return r;
	}
	*out_list = l;
	*out_outcomes = outcomes;
	return 0;
}

static int add_db_cert(void *arg, const struct db_cert *c, struct wxr_err *err)
{
	return wxpay_add_platform_cert(arg, c->pem, strlen(c->pem), err);
}

int certs_load(struct wxpay *w, struct db *db, struct wxr_err *err)
{
	return db_certs_each(db, add_db_cert, w, err);
}

int certs_each(struct db *db, int (*fn)(void *arg, const struct db_cert *c, struct wxr_err *err),
               void *arg, struct wxr_err *err)
{
	return db_certs_each(db, fn, arg, err);
}
