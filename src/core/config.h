/*
 * config.h - the INI configuration of SPEC section 3.
 *
 * Every key has a default except the merchant's identity and keys. Relative
 * paths in a config file are taken relative to the directory of that file.
 * Unknown sections and keys, and bad values, are errors naming file:line.
 */
#ifndef WXR_CONFIG_H
#define WXR_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "wxrecon.h"

enum paid_after_close {
	PAID_AFTER_CLOSE_MARK_PAID,
	PAID_AFTER_CLOSE_REFUND,
	PAID_AFTER_CLOSE_HOLD
};

struct config {
	char *path; /* the file it came from; NULL when there is none */

	/* [merchant] */
	char *mchid;
	char *appid;
	char *serial_no;
	char *private_key;          /* path */
	char *apiv3_key_file;       /* path */
	char *wechatpay_public_key; /* path */
	char *wechatpay_public_key_id;
	char *platform_cert_dir; /* path */

	/* [api] */
	char *base_url;
	long timeout_s;
	int retries;
	long retry_base_ms; /* backoff base of the retries */
	char *ca_bundle;    /* path or NULL */

	/* [database]: a SQLite file (path, the default) or a PostgreSQL connection
	 * string (url: a libpq URI or key=value conninfo, never with a password) */
	char *db_path;
	char *db_url; /* NULL unless set */

	/* [policy] */
	int64_t close_after_s;
	long close_max_per_run;
	bool mark_paid_on_missed_notify;
	char *abnormal_refund_type;
	long abnormal_refund_max_per_run;
	int64_t abnormal_refund_max_amount_per_run; /* fen */
	int64_t approval_above;                     /* fen */
	enum paid_after_close paid_after_close;
	char *timezone;
	int tz_offset_s;
	/* the exception queue (core/exceptions.h): amounts above which (fen) and
	 * ages from which an open discrepancy is medium, high, critical */
	int64_t severity_medium_above;
	int64_t severity_high_above;
	int64_t severity_critical_above;
	int64_t severity_medium_after_s;
	int64_t severity_high_after_s;
	int64_t severity_critical_after_s;
	long due_warn_days;         /* critical from this many days before a due date */
	long resolve_confirm_above; /* resolving more at once than this needs --yes */

	/* [bills] */
	char *archive_dir;
	int release_time_s; /* seconds after midnight, in the timezone */
	int64_t missing_after_s;

	/* [alerts] */
	char *on_attention;

	/* [notify] */
	char *notify_url; /* default notify_url of `order create` */

	/* [jobs] */
	char *jobs_dir;
	char *reports_dir;

	/* [audit] */
	char *audit_key_file; /* path; NULL = audit.key beside the database */

	/* Where each merchant key was set, for messages ("file:line"). */
	int line_of_private_key;
	int line_of_apiv3_key_file;
	/* The APIv3 key from the environment (WXRECON_APIV3_KEY), when there is no
	 * apiv3_key_file; set by main, never read from the config file. */
	const char *apiv3_key_env;
	/* Where [database] path and url were set (0: not set), for their exclusion. */
	int line_of_db_path;
	int line_of_db_url;

	/* Several merchants (SPEC 10): the [merchant "NAME"] sections in the
	 * order they first appear, with the mchid each sets. Empty with one
	 * merchant ([merchant] alone). */
	struct config_merchant {
		char *name, *mchid;
	} * merchants;
	size_t n_merchants;
	/* The merchant whose [merchant "NAME"] and [policy "NAME"] keys this
	 * config carries over the shared ones (config_load_merchant); NULL for
	 * the shared config. */
	char *merchant_name;
};

/* Fills cfg with the defaults (no file). */
void config_defaults(struct config *cfg);
/* Loads path over the defaults. */
int config_load(struct config *cfg, const char *path, struct wxr_err *err);
void config_release(struct config *cfg);

/* Loads shared's file for one of its merchants (shared: that file loaded by
 * config_load): the shared sections, then that merchant's [merchant "NAME"]
 * and [policy "NAME"] keys over them (in that order, wherever they stand in
 * the file). name is a NAME or an mchid of shared's list. WXR_ECONFIG naming
 * the configured ones when there is no such merchant. */
int config_load_merchant(struct config *cfg, const struct config *shared, const char *name,
                         struct wxr_err *err);
/* The index in cfg->merchants of NAME or mchid, -1 when none. */
int config_merchant_find(const struct config *cfg, const char *name_or_mchid);

/*
 * For commands that talk to WeChat Pay: checks that the merchant keys are
 * set and usable (the private key is not readable by group or others), and
 * reads the APIv3 key (from apiv3_key_file or $WXRECON_APIV3_KEY) into
 * out_key (32 bytes + NUL). Errors are WXR_ECONFIG naming the key.
 */
int config_check_merchant(const struct config *cfg, char out_key[33], struct wxr_err *err);

/* SHA-256 hex of the [policy] and [bills] values, for report stamps. */
void config_policy_hash(const struct config *cfg, char out[65]);

/* The keys a config may set, for showing what each resolved to. */
size_t config_key_count(void);
/* Key i's section, name and value as it resolved (default or set), as text. */
void config_key_value(const struct config *cfg, size_t i, const char **section, const char **name,
                      char *buf, size_t n);

#endif
