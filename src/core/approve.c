/*
 * approve.c - releasing a held action, with its audit entry.
 */
#include "core/approve.h"

#include <jansson.h>
#include <stdlib.h>

#include "base/err.h"
#include "db/audit.h"
#include "db/db.h"

int approve_action(struct db *db, int64_t run_id, const char *mchid, int64_t id, const char *who,
                   const char *note, const char *now, struct action *out, struct wxr_err *err)
{
	json_t *d;
	char *text;
	int r;

	r = db_begin(db, err);
	if (r < 0)
		return r;
	r = actions_approve(db, id, mchid, who, note, now, out, err);
	if (r < 0)
		goto fail;
	d = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s?, s:o}", "action_id", (json_int_t)id,
	              "kind", out->kind, "before", "pending_approval", "after", "intent", "by", who,
	              "why_held", out->note ? out->note : "", "note", note, "amount",
	              out->has_amount ? json_integer(out->amount) : json_null());
	text = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(d);
	if (!text) {
		r = err_set(err, WXR_EFAIL, "cannot build the audit entry");
		goto fail;
	}
	r = audit_append(db, run_id, "approve", "action.approve", out->target, text, err);
	free(text);
	if (r < 0)
		goto fail;
	return db_commit(db, err);
fail:
	db_rollback(db);
	return r;
}

int approve_list(struct db *db, const struct action_filter *f, struct action **out, size_t *out_n,
                 struct wxr_err *err)
{
	return actions_list(db, f, out, out_n, err);
}

int approve_get(struct db *db, int64_t id, struct action *out, bool *out_found, struct wxr_err *err)
{
	return actions_get_id(db, id, out, out_found, err);
}
