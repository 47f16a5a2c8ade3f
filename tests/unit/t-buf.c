#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "wb");

	if (f) {
		fputs(s, f);
		fclose(f);
	}
}

/* buf_read_file: the mandatory cap, exactly at it and one past, empty and missing files. */
static void test_read_file(void)
{
	char dir[] = "/tmp/t-buf-XXXXXX";
	char path[64];
	struct wxr_err err = WXR_ERR_INIT;
	struct buf b = BUF_INIT;
	struct buf capped;
	char big[10001];

	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/f", dir);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(path, big);
	is_int(buf_read_file(&b, path, 10000, &err), 0, "a file exactly at the cap is read");
	is_int(b.len, 10000, "all of it");
	ok(b.data && b.data[10000] == '\0', "NUL-terminated");
	buf_reset(&b);
	is_int(buf_read_file(&b, path, 9999, &err), WXR_ETOOBIG,
	       "one byte past the cap is refused");
	ok(strstr(err.msg, path) && strstr(err.msg, "larger than 9999 bytes"),
	   "the error names the file and the cap");
	buf_reset(&b);
	buf_init_max(&capped, 10000);
	is_int(buf_read_file(&capped, path, 20000, &err), 0,
	       "a file exactly at the buffer's own cap is read");
	buf_release(&capped);

	buf_adds(&b, "{");
	buf_add_json_str(&b, "a\"b\\c\n\x01"
	                     "\xe5\xb9\xb3");
	buf_add_json_str(&b, NULL);
	is_str(buf_str(&b),
	       "{\"a\\\"b\\\\c\\u000a\\u0001"
	       "\xe5\xb9\xb3\"\"\"",
	       "json strings: quotes, backslashes and control bytes escaped, UTF-8 kept, NULL as "
	       "\"\"");
	buf_release(&b);
	buf_init_max(&capped, 9000);
	is_int(buf_read_file(&capped, path, 20000, &err), WXR_ETOOBIG,
	       "past the buffer's own cap is refused");
	buf_release(&capped);
	buf_adds(&b, "head:");
	write_file(path, "tail");
	is_int(buf_read_file(&b, path, 4, &err), 0,
	       "appends to what the buffer holds; the cap counts the file only");
	is_str(buf_str(&b), "head:tail", "appended");
	buf_reset(&b);
	write_file(path, "");
	is_int(buf_read_file(&b, path, 10, &err), 0, "an empty file reads as nothing");
	is_int(b.len, 0, "length 0");
	unlink(path);
	is_int(buf_read_file(&b, path, 10, &err), WXR_EIO, "a missing file is an I/O error");
	ok(strstr(err.msg, "cannot open") != NULL, "that says it cannot be opened");
	buf_release(&b);
	rmdir(dir);
}

int main(void)
{
	struct buf b = BUF_INIT;
	struct buf capped;
	struct wxr_err err = WXR_ERR_INIT;
	char *s;
	size_t n;

	is_str(buf_str(&b), "", "empty buffer reads as empty string");
	buf_adds(&b, "abc");
	buf_addf(&b, "-%d-", 42);
	buf_addc(&b, 'z');
	is_str(buf_str(&b), "abc-42-z", "adds and formats");
	is_int(b.len, 8, "length tracks");
	buf_reset(&b);
	is_str(buf_str(&b), "", "reset empties");
	for (int i = 0; i < 1000; i++)
		buf_adds(&b, "0123456789");
	is_int(b.len, 10000, "grows past many doublings");
	s = buf_detach(&b, &n);
	is_int(n, 10000, "detach hands over the length");
	ok(b.data == NULL && b.len == 0, "detach leaves the buffer empty");
	free(s);

	buf_init_max(&capped, 5);
	is_int(buf_adds(&capped, "12345"), 0, "fills up to the cap");
	is_int(buf_adds(&capped, "6"), WXR_ETOOBIG, "refuses past the cap");
	is_str(buf_str(&capped), "12345", "content unchanged after refusal");
	buf_release(&capped);

	is_int(err_set(&err, WXR_EIO, "cannot open '%s'", "x.csv"), WXR_EIO,
	       "err_set returns code");
	err_prefix(&err, "ledger import");
	is_str(err.msg, "ledger import: cannot open 'x.csv'", "err_prefix prefixes");
	is_int(wxr_exit_code(WXR_ECONFIG), 2, "config errors exit 2");
	is_int(wxr_exit_code(WXR_EATTENTION), 3, "attention exits 3");
	is_int(wxr_exit_code(WXR_ENET), 1, "network errors exit 1");
	test_read_file();
	return done_testing();
}
