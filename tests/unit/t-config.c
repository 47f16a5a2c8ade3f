/*
 * t-config.c - several merchants in one config (SPEC 10, issue 17):
 * [merchant "NAME"] and [policy "NAME"] sections, found by name or mchid,
 * their keys over the shared ones wherever they stand in the file, and the
 * mistakes a config can make with them, each one clear line with file:line.
 */
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "core/config.h"
#include "testutil.h"

static char dir[4096];

static const char *write_conf(const char *name, const char *text)
{
	static char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	return path;
}

/* Loads text as a config: the return of config_load, err filled. */
static int load(const char *text, struct config *cfg, struct wxr_err *err)
{
	config_defaults(cfg);
	return config_load(cfg, write_conf("c.conf", text), err);
}

static void fails(const char *text, const char *needle, const char *name)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct config cfg;
	int r = load(text, &cfg, &err);

	if (!ok(r == WXR_ECONFIG && strstr(err.msg, needle), name))
		diag("r=%d msg=%s", r, err.msg);
	config_release(&cfg);
}

static const char two[] = "[merchant]\n"
                          "appid = wxshared\n"
                          "[policy \"shop-b\"]\n" /* before its merchant: order does not matter */
                          "close_after = 2h\n"
                          "[merchant \"shop-a\"]\n"
                          "mchid = 1900000001\n"
                          "private_key = keys/a.pem\n"
                          "[merchant \"shop-b\"]\n"
                          "mchid = 1900000002\n"
                          "appid = wxb\n"
                          "[policy]\n"
                          "close_after = 45m\n"
                          "close_max_per_run = 7\n";

static void one_merchant(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct config cfg;

	ok(load("[merchant]\nmchid = 1900000009\n", &cfg, &err) == 0, "[merchant] alone loads");
	is_int(cfg.n_merchants, 0, "... as one merchant: no named ones");
	is_str(cfg.mchid, "1900000009", "... its mchid");
	is_int(config_merchant_find(&cfg, "1900000009"), -1, "... and no list to find it in");
	config_release(&cfg);
}

static void several(void)
{
	struct wxr_err err = WXR_ERR_INIT;
	struct config cfg, a, b, byid;
	char want[4300];

	if (!ok(load(two, &cfg, &err) == 0, "two named merchants load"))
		diag("%s", err.msg);
	is_int(cfg.n_merchants, 2, "... both listed");
	ok(cfg.n_merchants == 2 && strcmp(cfg.merchants[0].name, "shop-a") == 0 &&
	           strcmp(cfg.merchants[0].mchid, "1900000001") == 0 &&
	           strcmp(cfg.merchants[1].name, "shop-b") == 0 &&
	           strcmp(cfg.merchants[1].mchid, "1900000002") == 0,
	   "... in file order, each with its mchid");
	is_int(cfg.close_after_s, 45 * 60, "the shared config has the shared [policy]");
	ok(!cfg.mchid, "... and no named merchant's keys");
	is_int(config_merchant_find(&cfg, "shop-b"), 1, "found by name");
	is_int(config_merchant_find(&cfg, "1900000001"), 0, "found by mchid");
	is_int(config_merchant_find(&cfg, "shop-c"), -1, "an unknown one is not found");

	config_defaults(&a);
	ok(config_load_merchant(&a, &cfg, "shop-a", &err) == 0, "shop-a loads");
	is_str(a.mchid, "1900000001", "... its own mchid");
	is_str(a.appid, "wxshared", "... the shared appid where it sets none");
	is_int(a.close_after_s, 45 * 60, "... the shared policy");
	snprintf(want, sizeof(want), "%s/keys/a.pem", dir);
	is_str(a.private_key, want, "... its private_key beside the config");
	is_str(a.merchant_name, "shop-a", "... and its name");

	config_defaults(&b);
	ok(config_load_merchant(&b, &cfg, "shop-b", &err) == 0, "shop-b loads");
	is_str(b.appid, "wxb", "... its own appid over the shared one");
	is_int(b.close_after_s, 2 * 3600, "... its [policy \"shop-b\"] over [policy], set earlier");
	is_int(b.close_max_per_run, 7, "... and the shared keys it does not override");

	config_defaults(&byid);
	ok(config_load_merchant(&byid, &cfg, "1900000002", &err) == 0 && byid.merchant_name &&
	           strcmp(byid.merchant_name, "shop-b") == 0,
	   "a merchant loads by its mchid too");

	{
		struct config none;

		config_defaults(&none);
		ok(config_load_merchant(&none, &cfg, "shop-z", &err) == WXR_ECONFIG &&
		           strstr(err.msg, "no merchant 'shop-z'") &&
		           strstr(err.msg, "shop-a (1900000001), shop-b (1900000002)"),
		   "an unknown merchant is refused, naming the configured ones");
		config_release(&none);
	}
	config_release(&a);
	config_release(&b);
	config_release(&byid);
	config_release(&cfg);
}

static void mistakes(void)
{
	fails("[merchant \"a\"]\nmchid = 1\n[policy \"b\"]\nclose_after = 1h\n",
	      "c.conf:4: [policy \"b\"] has no [merchant \"b\"]",
	      "a [policy \"NAME\"] without its merchant names its line");
	fails("[merchant \"a\"]\nmchid = 1\n[merchant \"b\"]\nmchid = 1\n",
	      "[merchant \"a\"] and [merchant \"b\"] have the same mchid 1",
	      "two merchants with one mchid are refused");
	fails("[merchant \"a\"]\nappid = wx\n", "[merchant \"a\"] mchid is not set",
	      "a named merchant needs its mchid");
	fails("[merchant \"a\"]\nmchid = 1\n[policy \"a\"]\nclose_after = soon\n", "c.conf:4",
	      "a bad value of a merchant not run is still an error, with its line");
	fails("[merchant \"a\"]\nmchid = 1\nmchidd = 2\n", "unknown key 'mchidd' in [merchant]",
	      "an unknown key in a named section");
	fails("[database \"a\"]\npath = x.db\n", "unknown section '[database \"a\"]'",
	      "only [merchant] and [policy] take a name");
	fails("[merchant \"\"]\nmchid = 1\n", "malformed section header", "an empty name");
}

int main(void)
{
	t_tmpdir(dir, sizeof(dir), "t-config");
	one_merchant();
	several();
	mistakes();
	t_rm_tree(dir);
	return done_testing();
}
