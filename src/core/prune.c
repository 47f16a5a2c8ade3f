#include "core/prune.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/err.h"
#include "base/xalloc.h"
#include "db/audit.h"
#include "db/db_bills.h"

struct cand {
	struct db_prune_file f; /* archive_path NULL: copied apart */
	bool archived;
};

struct cands {
	struct cand *v;
	size_t n, cap;
};

static int add_cand(void *arg, const struct db_prune_file *f, struct wxr_err *err)
{
	struct cands *c = arg;
	struct cand *k;

	(void)err;
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 16;
		c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
	}
	k = &c->v[c->n++];
	k->f = *f;
	k->f.archive_path = NULL;
	/* the .gz that proves the rows, and that restores them */
	k->archived = f->archive_path && access(f->archive_path, R_OK) == 0;
	return 0;
}

static void note_date(char first[CLOCK_DATE_LEN], char last[CLOCK_DATE_LEN], const char *d)
{
	if (!first[0])
		snprintf(first, CLOCK_DATE_LEN, "%s", d);
	if (last)
		snprintf(last, CLOCK_DATE_LEN, "%s", d);
}

int prune_bills(struct db *db, const struct prune_opts *o, struct prune_result *out,
                struct wxr_err *err)
{
	struct prune_result res;
	struct cands c = { NULL, 0, 0 };
	int r;

	memset(&res, 0, sizeof(res));
	if (!date_is_valid(o->before))
		return err_set(err, WXR_EUSAGE, "prune: bad date '%s'", o->before ? o->before : "");
	r = db_begin(db, err);
	if (r < 0)
		return r;
	r = db_bills_prune_list(db, o->mchid, o->before, add_cand, &c, err);
	for (size_t i = 0; r >= 0 && i < c.n; i++) {
		struct cand *k = &c.v[i];
		int64_t rows = k->f.rows;
		char *detail;
		json_t *j;

		if (!k->archived) {
			res.kept++;
			note_date(res.kept_first, NULL, k->f.date);
			continue;
		}
		if (!o->dry_run) {
			r = db_bills_prune_file(db, k->f.id, o->now, &rows, err);
			if (r < 0)
				break;
			j = json_pack("{s:s, s:s, s:I, s:s, s:s}", "date", k->f.date, "kind",
			              k->f.kind, "rows", (json_int_t)rows, "sha1", k->f.sha1,
			              "before", o->before);
			detail = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
			json_decref(j);
			r = detail ? audit_append(db, o->run_id, "prune", "bill.prune", k->f.date,
			                          detail, err)
			           : err_set(err, WXR_EFAIL, "cannot build the audit entry");
			free(detail);
			if (r < 0)
				break;
		}
		res.files++;
		res.rows += rows;
		note_date(res.first, res.last, k->f.date);
	}
	free(c.v);
	if (r < 0 || o->dry_run) {
		db_rollback(db);
		if (r < 0)
			return err_prefix(err, "prune");
	} else {
		r = db_commit(db, err);
		if (r < 0)
			return err_prefix(err, "prune");
	}
	*out = res;
	return 0;
}
