#include "core/auditkey.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fsutil.h"
#include "base/hex.h"
#include "base/xalloc.h"
#include "db/audit.h"
#include "wx/crypto.h"

#define KEYFILE_MAX 4096

char *auditkey_path(const char *configured, const char *db_path, bool db_is_server,
                    const char *config_path)
{
	const char *slash;
	struct buf b = BUF_INIT;

	if (configured && *configured)
		return xstrdup(configured);
	/* A server store has no directory: the key goes beside the config (or here). */
	if (db_is_server)
		db_path = config_path ? config_path : "audit.key";
	slash = strrchr(db_path, '/');
	if (slash)
		buf_add(&b, db_path, (size_t)(slash - db_path) + 1);
	buf_adds(&b, "audit.key");
	return buf_detach(&b, NULL);
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		*--e = '\0';
	return s;
}

/* Parses the text of a key file (modified in place). */
static int parse(char *text, const char *path, unsigned char key[AUDIT_KEY_LEN], int64_t *out_from,
                 struct wxr_err *err)
{
	bool have_key = false;
	int64_t from = 0;
	int lineno = 0;
	char *line = text;

	while (line && *line) {
		char *nl = strchr(line, '\n');
		char *eq, *k, *v;

		if (nl)
			*nl++ = '\0';
		lineno++;
		k = trim(line);
		line = nl;
		if (!*k || *k == '#')
			continue;
		eq = strchr(k, '=');
		if (!eq)
			return err_set(err, WXR_ECONFIG, "%s:%d: expected 'name = value'", path,
			               lineno);
		*eq = '\0';
		v = trim(eq + 1);
		k = trim(k);
		if (strcmp(k, "key") == 0) {
			if (strlen(v) != 2 * AUDIT_KEY_LEN ||
			    hex_decode(v, 2 * AUDIT_KEY_LEN, key) != AUDIT_KEY_LEN)
				return err_set(err, WXR_ECONFIG,
				               "%s:%d: the key must be %d hex digits", path, lineno,
				               2 * AUDIT_KEY_LEN);
			have_key = true;
		} else if (strcmp(k, "keyed_from") == 0) {
			char *end;

			errno = 0;
			from = strtoll(v, &end, 10);
			if (errno || *end || end == v || from < 1)
				return err_set(err, WXR_ECONFIG,
				               "%s:%d: keyed_from must be an entry id (1 or more)",
				               path, lineno);
		} else {
			return err_set(err, WXR_ECONFIG, "%s:%d: unknown name '%s'", path, lineno,
			               k);
		}
	}
	if (!have_key || !from)
		return err_set(err, WXR_ECONFIG, "audit key file '%s' lacks its %s", path,
		               have_key ? "keyed_from" : "key");
	*out_from = from;
	return 0;
}

/* Reads path: 1 = read, 0 = there is no such file, < 0 = error. */
static int load(const char *path, unsigned char key[AUDIT_KEY_LEN], int64_t *out_from,
                struct wxr_err *err)
{
	char buf[KEYFILE_MAX];
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return err_set(err, WXR_ECONFIG, "cannot open audit key file '%s': %s", path,
		               strerror(errno));
	}
	/* The same rule as the private key: it is what makes the log evidence. */
	if (fstat(fd, &st) == 0 && (st.st_mode & 077)) {
		close(fd);
		return err_set(err, WXR_ECONFIG,
		               "audit key file '%s' is readable by group or others (mode %04o); "
		               "run: chmod 600 '%s'",
		               path, (unsigned)(st.st_mode & 07777), path);
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return err_set(err, WXR_ECONFIG, "cannot read audit key file '%s': %s", path,
		               strerror(errno));
	buf[n] = '\0';
	r = parse(buf, path, key, out_from, err);
	explicit_bzero(buf, sizeof(buf));
	return r < 0 ? r : 1;
}

int auditkey_attach(struct db *db, const char *path, struct wxr_err *err)
{
	unsigned char key[AUDIT_KEY_LEN];
	int64_t from = 0;
	int r = load(path, key, &from, err);

	if (r < 0)
		return r;
	audit_use_key(db, r ? key : NULL, from, path);
	explicit_bzero(key, sizeof(key));
	return 0;
}

/* Writes a new key file (owner-only, never over an existing one). */
static int create(const char *path, const unsigned char key[AUDIT_KEY_LEN], int64_t from,
                  struct wxr_err *err)
{
	struct buf b = BUF_INIT;
	char hex[2 * AUDIT_KEY_LEN + 1];
	char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int fd, r = 0;

	if (slash && slash != dir) {
		*slash = '\0';
		r = fs_mkdir_p(dir, 0700, err);
	}
	free(dir);
	if (r < 0)
		return r;
	hex_encode(key, AUDIT_KEY_LEN, hex);
	buf_addf(&b,
	         "# wxrecon audit key (made by 'wxrecon init'): the HMAC key of the audit log.\n"
	         "# Keep it owner-only, away from whoever can write the database, and in the\n"
	         "# backup of the keys: without it 'wxrecon audit --verify' cannot prove the log.\n"
	         "key = %s\n"
	         "keyed_from = %" PRId64 "\n",
	         hex, from);
	explicit_bzero(hex, sizeof(hex));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = err_set(err, WXR_EIO, "cannot create audit key file '%s': %s", path,
		            strerror(errno));
	} else {
		if (write(fd, b.data, b.len) != (ssize_t)b.len || fsync(fd) < 0)
			r = err_set(err, WXR_EIO, "cannot write audit key file '%s': %s", path,
			            strerror(errno));
		if (close(fd) < 0 && r == 0)
			r = err_set(err, WXR_EIO, "cannot write audit key file '%s': %s", path,
			            strerror(errno));
		if (r < 0)
			unlink(path);
	}
	explicit_bzero(b.data, b.len);
	buf_release(&b);
	return r;
}

/* Inside the write transaction: a log with no keyed entry gets the entry
 * that opens the key's era, when the key starts right after its last one. */
static int open_era(struct db *db, const char *path, struct wxr_err *err)
{
	struct audit_head h;
	char detail[128];
	int r = audit_get_head(db, &h, err);

	if (r < 0)
		return r;
	if (h.entries + 1 != audit_keyed_from(db))
		return err_set(err, WXR_ECONFIG,
		               "audit key '%s' covers entries from %" PRId64 " on, but this audit"
		               " log has %" PRId64 " and none keyed: the key belongs to another"
		               " database (give this one its own [audit] key_file), or the log's"
		               " keyed entries were deleted (see 'wxrecon audit --verify')",
		               path, audit_keyed_from(db), h.entries);
	snprintf(detail, sizeof(detail),
	         "{\"keyed_from\":%" PRId64 ",\"unkeyed_entries\":%" PRId64 "}", h.entries + 1,
	         h.entries);
	return audit_append(db, 0, "wxrecon", "audit.keyed", NULL, detail, err);
}

int auditkey_init(struct db *db, const char *path, struct auditkey_init_result *out,
                  struct wxr_err *err)
{
	unsigned char key[AUDIT_KEY_LEN];
	int64_t from = 0, keyed = 0;
	bool created = false;
	int r;

	memset(out, 0, sizeof(*out));
	r = audit_restore_triggers(db, out->restored_triggers, err);
	if (r < 0)
		return r;
	r = db_begin(db, err);
	if (r < 0)
		return r;
	r = audit_count_keyed(db, &keyed, err);
	if (r < 0)
		goto out;
	r = load(path, key, &from, err);
	if (r < 0)
		goto out;
	if (r == 0) {
		struct audit_head h;

		if (keyed) {
			r = err_set(
			        err, WXR_ECONFIG,
			        "the audit log has %" PRId64 " keyed entries but its key file '%s'"
			        " is missing: restore it from the backup (a new key cannot prove"
			        " them)",
			        keyed, path);
			goto out;
		}
		r = audit_get_head(db, &h, err);
		if (r < 0)
			goto out;
		from = h.entries + 1;
		r = crypto_random(key, sizeof(key), err);
		if (r < 0)
			goto out;
		r = create(path, key, from, err);
		if (r < 0)
			goto out;
		created = true;
	}
	audit_use_key(db, key, from, path);
	r = keyed ? 0 : open_era(db, path, err);
out:
	explicit_bzero(key, sizeof(key));
	if (r < 0) {
		db_rollback(db);
		if (created) {
			unlink(path);
			audit_use_key(db, NULL, 0, path);
		}
		return r;
	}
	r = db_commit(db, err);
	if (r < 0 && created) {
		unlink(path);
		audit_use_key(db, NULL, 0, path);
	}
	if (r == 0)
		out->key_made = created;
	return r;
}
