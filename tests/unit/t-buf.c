#include "tap.h"

#include <stdlib.h>

#include "base/buf.h"
#include "base/err.h"

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

	is_int(err_set(&err, WXR_EIO, "cannot open '%s'", "x.csv"), WXR_EIO, "err_set returns code");
	err_prefix(&err, "ledger import");
	is_str(err.msg, "ledger import: cannot open 'x.csv'", "err_prefix prefixes");
	is_int(wxr_exit_code(WXR_ECONFIG), 2, "config errors exit 2");
	is_int(wxr_exit_code(WXR_EATTENTION), 3, "attention exits 3");
	is_int(wxr_exit_code(WXR_ENET), 1, "network errors exit 1");
	return done_testing();
}
