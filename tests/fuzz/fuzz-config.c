/*
 * fuzz-config.c - the INI config loader (config.h) on arbitrary bytes.
 *
 * config_load() reads a path, so the input is written to a temporary file
 * (fuzz_tmpfile(), once per process, rewritten for each input); the loader
 * is used as it ships, with no in-memory variant. Oracles:
 *   - an error names the file and is WXR_ECONFIG with a message;
 *   - a loaded config keeps the keys that have no off switch set
 *     (base_url, database path, timezone, jobs dir, reports dir...) and
 *     every number in its documented range;
 *   - a UTF-8 byte order mark in front, or CRLF line ends, change nothing:
 *     the same outcome, the same message, the same policy hash.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "fuzzutil.h"

struct outcome {
	int rc;
	char msg[sizeof(((struct wxr_err *)0)->msg)];
	char hash[65];
};

static const char *path;

static void load(const void *data, size_t size, struct outcome *o)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct config cfg;

	memset(o, 0, sizeof(*o));
	fuzz_tmpfile_write(path, data, size);
	config_defaults(&cfg);
	o->rc = config_load(&cfg, path, &err);
	if (o->rc < 0) {
		FUZZ_ASSERT(o->rc == WXR_ECONFIG, "error code %d", o->rc);
		FUZZ_ASSERT(strncmp(err.msg, path, strlen(path)) == 0,
		            "message '%s' lacks the path", err.msg);
		snprintf(o->msg, sizeof(o->msg), "%s", err.msg);
	} else {
		FUZZ_ASSERT(o->rc == 0, "config_load returned %d", o->rc);
		FUZZ_ASSERT(cfg.base_url && cfg.db_path && cfg.abnormal_refund_type &&
		                    cfg.timezone && cfg.jobs_dir && cfg.reports_dir,
		            "a key without an off switch was unset");
		FUZZ_ASSERT(cfg.timeout_s >= 1 && cfg.timeout_s <= 600, "timeout_s %ld",
		            cfg.timeout_s);
		FUZZ_ASSERT(cfg.retries >= 0 && cfg.retries <= 10, "retries %d", cfg.retries);
		FUZZ_ASSERT(cfg.retry_base_ms >= 1 && cfg.retry_base_ms <= 60000, "retry_base_ms");
		FUZZ_ASSERT(cfg.close_after_s >= 0 && cfg.missing_after_s >= 0,
		            "negative duration");
		FUZZ_ASSERT(cfg.release_time_s >= 0 && cfg.release_time_s < 86400,
		            "release_time_s %d", cfg.release_time_s);
		FUZZ_ASSERT(cfg.tz_offset_s > -86400 && cfg.tz_offset_s < 86400, "tz_offset_s %d",
		            cfg.tz_offset_s);
		FUZZ_ASSERT(cfg.approval_above >= 0 && cfg.abnormal_refund_max_amount_per_run >= 0,
		            "negative amount");
		FUZZ_ASSERT(!cfg.serial_no || strlen(cfg.serial_no) == 40, "serial_no '%s'",
		            cfg.serial_no);
		config_policy_hash(&cfg, o->hash);
	}
	config_release(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct outcome plain, bom, crlf;
	uint8_t *alt;
	size_t n = 0;

	if (size > 16384)
		return 0;
	if (!path)
		path = fuzz_tmpfile(".conf");
	load(data, size, &plain);

	alt = malloc(2 * size + 3);
	if (!alt)
		abort();
	if (!(size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)) {
		memcpy(alt, "\xef\xbb\xbf", 3);
		if (size)
			memcpy(alt + 3, data, size);
		load(alt, size + 3, &bom);
		FUZZ_ASSERT(bom.rc == plain.rc && strcmp(bom.msg, plain.msg) == 0 &&
		                    strcmp(bom.hash, plain.hash) == 0,
		            "a BOM changed the outcome: %d '%s' vs %d '%s'", plain.rc, plain.msg,
		            bom.rc, bom.msg);
	}
	for (size_t i = 0; i < size; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			alt[n++] = '\r';
		alt[n++] = data[i];
	}
	load(alt, n, &crlf);
	FUZZ_ASSERT(crlf.rc == plain.rc && strcmp(crlf.msg, plain.msg) == 0 &&
	                    strcmp(crlf.hash, plain.hash) == 0,
	            "CRLF changed the outcome: %d '%s' vs %d '%s'", plain.rc, plain.msg, crlf.rc,
	            crlf.msg);
	free(alt);
	return 0;
}
