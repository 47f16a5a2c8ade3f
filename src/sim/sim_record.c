/*
 * sim_record.c - what the simulator keeps between requests: the fault
 * queue (POST /_sim/faults), the journal of requests (GET /_sim/journal,
 * --journal), and the state saved after each change (--state). Below the
 * HTTP layer and the endpoints, which both use it.
 */
#include "sim/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/xalloc.h"

static const char *const fault_names[] = {
	"status",           "delay", "bad_signature", "wrong_bill_hash", "truncate_download",
	"pay_during_close", "drop"
};

const char *sim_fault_kind_name(enum sim_fault_kind kind)
{
	return fault_names[kind];
}

/* ---- faults ---- */

void sim_fault_release(struct sim_fault *f)
{
	free(f->match);
	free(f->code);
	free(f->message);
	memset(f, 0, sizeof(*f));
}

static void fault_copy(struct sim_fault *dst, const struct sim_fault *src)
{
	*dst = *src;
	dst->match = src->match ? xstrdup(src->match) : NULL;
	dst->code = src->code ? xstrdup(src->code) : NULL;
	dst->message = src->message ? xstrdup(src->message) : NULL;
}

void sim_faults_clear(struct sim *s)
{
	for (size_t i = 0; i < s->nfaults; i++)
		sim_fault_release(&s->faults[i]);
	s->nfaults = 0;
}

int sim_fault_from_json(json_t *j, struct sim_fault *out, struct wxr_err *err)
{
	static const char *const keys[] = { "match", "count", "kind",  "status", "code", "message",
		                            "ms",    "after", "probe", "short",  "bytes" };
	struct sim_fault f;
	const char *key, *kind;
	json_t *v;
	size_t i;

	memset(&f, 0, sizeof(f));
	if (!json_is_object(j))
		return err_set(err, WXR_EDATA, "a fault must be a JSON object");
	json_object_foreach(j, key, v)
	{
		for (i = 0; i < ARRAY_SIZE(keys); i++)
			if (strcmp(key, keys[i]) == 0)
				break;
		if (i == ARRAY_SIZE(keys))
			return err_set(err, WXR_EDATA, "unknown fault field '%s'", key);
	}
	v = json_object_get(j, "match");
	if (!json_is_string(v) || !*json_string_value(v))
		return err_set(err, WXR_EDATA,
		               "'match' (a path prefix or an endpoint name) is "
		               "required");
	if (json_string_value(v)[0] != '/') {
		for (i = 1; i <= SIM_EP_CERTIFICATES; i++)
			if (strcmp(json_string_value(v), sim_ep_name((enum sim_ep)i)) == 0)
				break;
		if (i > SIM_EP_CERTIFICATES)
			return err_set(err, WXR_EDATA, "unknown endpoint name '%s'",
			               json_string_value(v));
	}
	kind = json_string_value(json_object_get(j, "kind"));
	for (i = 0; kind && i < ARRAY_SIZE(fault_names); i++)
		if (strcmp(kind, fault_names[i]) == 0)
			break;
	if (!kind || i == ARRAY_SIZE(fault_names))
		return err_set(err, WXR_EDATA,
		               "'kind' must be one of status, delay, "
		               "bad_signature, wrong_bill_hash, truncate_download, "
		               "pay_during_close, drop");
	f.kind = (enum sim_fault_kind)i;
	f.count = 1;
	v = json_object_get(j, "count");
	if (v) {
		if (!json_is_integer(v) ||
		    (json_integer_value(v) < 1 && json_integer_value(v) != -1))
			return err_set(err, WXR_EDATA, "'count' must be >= 1, or -1 for always");
		f.count = (long)json_integer_value(v);
	}
	if (f.kind == SIM_FAULT_STATUS) {
		v = json_object_get(j, "status");
		if (!json_is_integer(v) || json_integer_value(v) < 400 ||
		    json_integer_value(v) > 599)
			return err_set(err, WXR_EDATA, "'status' (400-599) is required");
		f.status = (int)json_integer_value(v);
		v = json_object_get(j, "code");
		if (v && !json_is_string(v))
			return err_set(err, WXR_EDATA, "'code' must be a string");
		v = json_object_get(j, "message");
		if (v && !json_is_string(v))
			return err_set(err, WXR_EDATA, "'message' must be a string");
	}
	if (f.kind == SIM_FAULT_DELAY) {
		v = json_object_get(j, "ms");
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 600000)
			return err_set(err, WXR_EDATA, "'ms' (0-600000) is required");
		f.ms = (long)json_integer_value(v);
	}
	v = json_object_get(j, "bytes");
	if (v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1)
			return err_set(err, WXR_EDATA, "'bytes' must be >= 1");
		f.bytes = (long)json_integer_value(v);
	}
	f.after = json_is_true(json_object_get(j, "after"));
	f.probe = json_is_true(json_object_get(j, "probe"));
	f.short_body = json_is_true(json_object_get(j, "short"));
	f.match = xstrdup(json_string_value(json_object_get(j, "match")));
	if (f.kind == SIM_FAULT_STATUS) {
		const char *code = json_string_value(json_object_get(j, "code"));
		const char *msg = json_string_value(json_object_get(j, "message"));

		f.code = xstrdup(code              ? code
		                 : f.status == 429 ? "FREQUENCY_LIMITED"
		                 : f.status == 503 ? "SERVICE_UNAVAILABLE"
		                                   : "SYSTEM_ERROR");
		f.message = xstrdup(msg               ? msg
		                    : f.status == 429 ? "频率超限"
		                                      : "系统繁忙，请稍后重试");
	}
	*out = f;
	return 0;
}

json_t *sim_fault_to_json(const struct sim_fault *f)
{
	json_t *j = json_pack("{s:s, s:s, s:I}", "match", f->match, "kind", fault_names[f->kind],
	                      "count", (json_int_t)f->count);

	if (f->kind == SIM_FAULT_STATUS) {
		json_object_set_new(j, "status", json_integer(f->status));
		json_object_set_new(j, "code", json_string(f->code));
		json_object_set_new(j, "message", json_string(f->message));
	}
	if (f->kind == SIM_FAULT_DELAY)
		json_object_set_new(j, "ms", json_integer(f->ms));
	if (f->kind == SIM_FAULT_DROP)
		json_object_set_new(j, "after", json_boolean(f->after));
	if (f->kind == SIM_FAULT_BAD_SIGNATURE)
		json_object_set_new(j, "probe", json_boolean(f->probe));
	if (f->kind == SIM_FAULT_TRUNCATE_DOWNLOAD) {
		json_object_set_new(j, "short", json_boolean(f->short_body));
		if (f->bytes)
			json_object_set_new(j, "bytes", json_integer(f->bytes));
	}
	return j;
}

static bool fault_applies(const struct sim_fault *f, enum sim_ep ep, const char *path)
{
	if (f->match[0] == '/') {
		if (strncmp(path, f->match, strlen(f->match)) != 0)
			return false;
	} else if (ep == SIM_EP_NONE || strcmp(f->match, sim_ep_name(ep)) != 0) {
		return false;
	}
	switch (f->kind) {
	case SIM_FAULT_WRONG_BILL_HASH:
		return ep == SIM_EP_TRADEBILL || ep == SIM_EP_FUNDFLOWBILL;
	case SIM_FAULT_TRUNCATE_DOWNLOAD:
		return ep == SIM_EP_DOWNLOAD;
	case SIM_FAULT_PAY_DURING_CLOSE:
		return ep == SIM_EP_CLOSE;
	default:
		return true;
	}
}

/* Takes the first rule that applies (queue order); copies it into out. */
bool sim_fault_take(struct sim *s, enum sim_ep ep, const char *path, struct sim_fault *out)
{
	for (size_t i = 0; i < s->nfaults; i++) {
		struct sim_fault *f = &s->faults[i];

		if (!fault_applies(f, ep, path))
			continue;
		fault_copy(out, f);
		if (f->count > 0 && --f->count == 0) {
			sim_fault_release(f);
			memmove(f, f + 1, (s->nfaults - i - 1) * sizeof(*f));
			s->nfaults--;
		}
		return true;
	}
	return false;
}

/* ---- journal ---- */

static void journal_entry_release(struct sim_journal_entry *e)
{
	free(e->method);
	free(e->path);
	free(e->url);
	free(e->request_id);
	free(e->fault);
}

void sim_journal_clear(struct sim *s)
{
	for (size_t i = 0; i < s->njournal; i++)
		journal_entry_release(&s->journal[i]);
	s->njournal = 0;
}

static json_t *journal_entry_json(const struct sim_journal_entry *e)
{
	char t[40];

	sim_fmt_rfc3339(e->ts, t, sizeof(t));
	return json_pack("{s:s, s:s, s:s, s:i, s:s?, s:b, s:s?, s:s}", "method", e->method, "path",
	                 e->path, "url", e->url, "status", e->status, "request_id", e->request_id,
	                 "auth_ok", e->auth_ok, "fault", e->fault, "time", t);
}

json_t *sim_journal_to_json(const struct sim *s)
{
	json_t *a = json_array();

	for (size_t i = 0; i < s->njournal; i++)
		json_array_append_new(a, journal_entry_json(&s->journal[i]));
	return a;
}

/* Raw targets are ASCII when clients encode them; anything else is not echoed. */
static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

void sim_journal_add(struct sim *s, const char *method, const char *path, const char *url,
                     int status, const char *request_id, bool auth_ok, const char *fault)
{
	struct sim_journal_entry e;

	e.method = xstrdup(method);
	e.path = xstrdup(path);
	e.url = printable(url) ? xstrdup(url) : xstrdup("?");
	e.status = status;
	e.request_id = request_id ? xstrdup(request_id) : NULL;
	e.auth_ok = auth_ok;
	e.fault = fault ? xstrdup(fault) : NULL;
	e.ts = sim_real_now();
	pthread_mutex_lock(&s->lock);
	if (s->journal_fp) {
		json_t *j = journal_entry_json(&e);
		char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;

		if (line) {
			fprintf(s->journal_fp, "%s\n", line);
			fflush(s->journal_fp);
		}
		free(line);
		json_decref(j);
	}
	if (s->njournal == SIM_JOURNAL_MAX) {
		/* drop the older half at once: the cost stays linear */
		size_t half = SIM_JOURNAL_MAX / 2;

		for (size_t i = 0; i < half; i++)
			journal_entry_release(&s->journal[i]);
		memmove(s->journal, s->journal + half, (s->njournal - half) * sizeof(*s->journal));
		s->njournal -= half;
	}
	if (s->njournal == s->journal_cap) {
		s->journal_cap = s->journal_cap ? s->journal_cap * 2 : 64;
		s->journal = xreallocarray(s->journal, s->journal_cap, sizeof(*s->journal));
	}
	s->journal[s->njournal++] = e;
	pthread_mutex_unlock(&s->lock);
	if (!s->cfg.quiet)
		fprintf(stderr, "wxrecon-sim: %s %s -> %d%s%s\n", method, e.url, status,
		        fault ? " fault " : "", fault ? fault : "");
}

/* ---- state ---- */

void sim_persist(struct sim *s)
{
	struct wxr_err err = WXR_ERR_INIT;

	if (!s->state_path)
		return;
	if (sim_state_save(&s->st, s->state_path, &err) < 0)
		fprintf(stderr, "wxrecon-sim: %s\n", err.msg);
}
