/* sim_util.c - small helpers of the simulator: time, base64, random, checks, index. */
#include "base/hex.h"
#include "sim/sim.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/xalloc.h"

#define SH_OFFSET_S (8 * 3600) /* Asia/Shanghai: UTC+8, no DST since 1991 */

/* Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian). */
int64_t sim_days_from_civil(int y, int m, int d)
{
	int64_t yy = (int64_t)y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

void sim_civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

int64_t sim_real_now(void)
{
	return (int64_t)time(NULL);
}

int64_t sim_day_sh(int64_t ts)
{
	return floor_div(ts + SH_OFFSET_S, 86400);
}

int64_t sim_day_start_sh(int64_t day)
{
	return day * 86400 - SH_OFFSET_S;
}

static void split_sh(int64_t ts, int *y, int *mo, int *d, int *h, int *mi, int *s)
{
	int64_t local = ts + SH_OFFSET_S;
	int64_t day = floor_div(local, 86400);
	int64_t sec = local - day * 86400;

	sim_civil_from_days(day, y, mo, d);
	*h = (int)(sec / 3600);
	*mi = (int)(sec / 60 % 60);
	*s = (int)(sec % 60);
}

void sim_fmt_rfc3339(int64_t ts, char *out, size_t n)
{
	int y, mo, d, h, mi, s;

	split_sh(ts, &y, &mo, &d, &h, &mi, &s);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d+08:00", y, mo, d, h, mi, s);
}

void sim_fmt_date_sh(int64_t ts, char *out, size_t n)
{
	int y, mo, d, h, mi, s;

	split_sh(ts, &y, &mo, &d, &h, &mi, &s);
	snprintf(out, n, "%04d-%02d-%02d", y, mo, d);
}

void sim_fmt_ymd_sh(int64_t ts, char *out, size_t n)
{
	int y, mo, d, h, mi, s;

	split_sh(ts, &y, &mo, &d, &h, &mi, &s);
	snprintf(out, n, "%04d%02d%02d", y, mo, d);
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

static int days_in_month(int y, int m)
{
	static const int dim[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

static int parse_ymd(const char *s, int *y, int *m, int *d)
{
	if (digits(s, 4, y) < 0 || s[4] != '-' || digits(s + 5, 2, m) < 0 || s[7] != '-' ||
	    digits(s + 8, 2, d) < 0)
		return -1;
	if (*y < 1970 || *y > 9999 || *m < 1 || *m > 12 || *d < 1 || *d > days_in_month(*y, *m))
		return -1;
	return 0;
}

int sim_parse_date(const char *s, int64_t *out_days)
{
	int y, m, d;

	if (strlen(s) != 10 || parse_ymd(s, &y, &m, &d) < 0)
		return -1;
	*out_days = sim_days_from_civil(y, m, d);
	return 0;
}

int sim_parse_rfc3339(const char *s, bool allow_frac, int64_t *out_ts)
{
	int y, mo, d, h, mi, sec, oh, om;
	const char *p;
	int64_t ts;
	int sign;

	if (strlen(s) < 20 || parse_ymd(s, &y, &mo, &d) < 0 || s[10] != 'T')
		return -1;
	if (digits(s + 11, 2, &h) < 0 || s[13] != ':' || digits(s + 14, 2, &mi) < 0 ||
	    s[16] != ':' || digits(s + 17, 2, &sec) < 0)
		return -1;
	if (h > 23 || mi > 59 || sec > 59)
		return -1;
	p = s + 19;
	if (*p == '.') {
		if (!allow_frac)
			return -1;
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	ts = sim_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	if (*p == 'Z' && p[1] == '\0') {
		*out_ts = ts;
		return 0;
	}
	if ((*p != '+' && *p != '-') || strlen(p) != 6)
		return -1;
	sign = *p == '+' ? 1 : -1;
	if (digits(p + 1, 2, &oh) < 0 || p[3] != ':' || digits(p + 4, 2, &om) < 0 || oh > 23 ||
	    om > 59)
		return -1;
	*out_ts = ts - sign * (int64_t)(oh * 3600 + om * 60);
	return 0;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *sim_b64_encode(const unsigned char *p, size_t n)
{
	char *out = xmalloc((n + 2) / 3 * 4 + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = b64chars[(v >> 18) & 63];
		out[o++] = b64chars[(v >> 12) & 63];
		out[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? b64chars[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static int b64val(char c)
{
	const char *p = c ? strchr(b64chars, c) : NULL;

	return p ? (int)(p - b64chars) : -1;
}

int sim_b64_decode(const char *s, size_t len, unsigned char **out, size_t *out_len)
{
	unsigned char *buf;
	size_t o = 0;

	if (len == 0 || len % 4 != 0)
		return -1;
	buf = xmalloc(len / 4 * 3 + 1);
	for (size_t i = 0; i < len; i += 4) {
		int a = b64val(s[i]), b = b64val(s[i + 1]);
		int c = s[i + 2] == '=' ? -2 : b64val(s[i + 2]);
		int d = s[i + 3] == '=' ? -2 : b64val(s[i + 3]);
		bool last = i + 4 == len;

		if (a < 0 || b < 0 || c == -1 || d == -1 || (c == -2 && d != -2) ||
		    ((c == -2 || d == -2) && !last))
			goto bad;
		buf[o++] = (unsigned char)(a << 2 | b >> 4);
		if (c >= 0) {
			buf[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
			if (d >= 0)
				buf[o++] = (unsigned char)((c & 3) << 6 | d);
			else if (c & 3)
				goto bad; /* non-canonical trailing bits */
		} else if (b & 15) {
			goto bad;
		}
	}
	*out = buf;
	*out_len = o;
	return 0;
bad:
	free(buf);
	return -1;
}

void sim_rand_alnum(char *out, size_t n)
{
	static const char set[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned char r[64];
	size_t i = 0;

	while (i < n) {
		if (RAND_bytes(r, sizeof(r)) != 1)
			BUG("RAND_bytes failed");
		for (size_t j = 0; j < sizeof(r) && i < n; j++) {
			if (r[j] >= 248) /* 248 = 4 * 62: no modulo bias */
				continue;
			out[i++] = set[r[j] % 62];
		}
	}
	out[n] = '\0';
}

void sim_rand_hex(char *out, size_t n)
{
	unsigned char r[64];
	size_t half = (n + 1) / 2;
	char tmp[129];

	if (half > sizeof(r))
		BUG("sim_rand_hex: %zu too long", n);
	if (RAND_bytes(r, (int)half) != 1)
		BUG("RAND_bytes failed");
	hex_encode(r, half, tmp);
	memcpy(out, tmp, n);
	out[n] = '\0';
}

bool sim_str_charset(const char *s, size_t min, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			continue;
		if (extra && c && strchr(extra, c))
			continue;
		return false;
	}
	return true;
}

char *sim_pct_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= n)
				goto bad;
			hi = hex_digit(s[i + 1]);
			lo = hex_digit(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				goto bad;
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (s[i] == '\0') {
			goto bad;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

int sim_write_file_atomic(const char *path, const void *p, size_t n)
{
	char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	FILE *fp = fopen(tmp, "wb");
	int r = -1;

	if (!fp)
		goto out;
	if (fwrite(p, 1, n, fp) != n) {
		fclose(fp);
		goto out_unlink;
	}
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
		fclose(fp);
		goto out_unlink;
	}
	if (fclose(fp) != 0)
		goto out_unlink;
	if (rename(tmp, path) != 0)
		goto out_unlink;
	r = 0;
	goto out;
out_unlink:
	unlink(tmp);
out:
	free(tmp);
	return r;
}

char *sim_read_file(const char *path, size_t max, size_t *out_len)
{
	struct buf b = BUF_INIT;
	struct wxr_err err = WXR_ERR_INIT;

	if (buf_read_file(&b, path, max, &err) < 0) {
		buf_release(&b);
		errno = err.code == WXR_ETOOBIG ? EFBIG : EIO;
		return NULL;
	}
	return buf_detach(&b, out_len); /* "" for an empty file */
}

char *sim_strip(const char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return xstrndup(s, n);
}

/* ---- index: open addressing, FNV-1a ---- */

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

static void index_grow(struct sim_index *ix)
{
	struct sim_index n = { NULL, NULL, ix->cap ? ix->cap * 2 : 64, 0 };

	n.keys = xcalloc(n.cap, sizeof(*n.keys));
	n.vals = xcalloc(n.cap, sizeof(*n.vals));
	for (size_t i = 0; i < ix->cap; i++)
		if (ix->keys[i])
			sim_index_put(&n, ix->keys[i], ix->vals[i]);
	free(ix->keys);
	free(ix->vals);
	*ix = n;
}

void sim_index_put(struct sim_index *ix, const char *key, size_t val)
{
	size_t i;

	if ((ix->n + 1) * 2 > ix->cap)
		index_grow(ix);
	i = (size_t)(fnv(key) & (ix->cap - 1));
	while (ix->keys[i] && strcmp(ix->keys[i], key) != 0)
		i = (i + 1) & (ix->cap - 1);
	if (!ix->keys[i])
		ix->n++;
	ix->keys[i] = key;
	ix->vals[i] = val;
}

int sim_index_get(const struct sim_index *ix, const char *key, size_t *out_val)
{
	size_t i;

	if (!ix->cap || !key)
		return 0;
	i = (size_t)(fnv(key) & (ix->cap - 1));
	while (ix->keys[i]) {
		if (strcmp(ix->keys[i], key) == 0) {
			*out_val = ix->vals[i];
			return 1;
		}
		i = (i + 1) & (ix->cap - 1);
	}
	return 0;
}

void sim_index_release(struct sim_index *ix)
{
	free(ix->keys);
	free(ix->vals);
	ix->keys = NULL;
	ix->vals = NULL;
	ix->cap = 0;
	ix->n = 0;
}
