/*
 * version.c - `wxrecon version` (also --version and -V): the version, the
 * git commit it was built from (WXRECON_GIT, passed by the Makefile when the
 * source is a git checkout; a tarball has none), and the versions of the
 * libraries it runs with, as loaded (not as compiled against).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <zlib.h>

#include "base/err.h"
#include "cmd/cmd.h"

#ifdef WXRECON_GIT
static const char git_commit[] = WXRECON_GIT;
#else
static const char git_commit[] = "";
#endif

int cmd_version_print(bool as_json, struct wxr_err *err)
{
	const char *curl = curl_version_info(CURLVERSION_NOW)->version;
	const char *openssl = OpenSSL_version(OPENSSL_VERSION);

	if (as_json)
		return cmd_print_json(json_pack("{s:s, s:s*, s:{s:s, s:s, s:s, s:s, s:s}}",
		                                "version", WXR_VERSION, "git",
		                                git_commit[0] ? git_commit : NULL, "libraries",
		                                "curl", curl, "openssl", openssl, "sqlite",
		                                store_library_version(), "zlib", zlibVersion(),
		                                "jansson", jansson_version_str()),
		                      err);
	printf("wxrecon %s%s%s%s\n", WXR_VERSION, git_commit[0] ? " (git " : "", git_commit,
	       git_commit[0] ? ")" : "");
	printf("libcurl %s, %s, %s %s, zlib %s, jansson %s\n", curl, openssl, store_library_name(),
	       store_library_version(), zlibVersion(), jansson_version_str());
	return 0;
}

static int run_version(struct ctx *ctx, int argc, char **argv, struct wxr_err *err)
{
	(void)argv;
	if (argc > 1)
		return cmd_usage_error(ctx, err, "'version' takes no arguments");
	return cmd_version_print(ctx->json, err);
}

const struct cmd cmd_version = {
	.name = "version",
	.run = run_version,
	.flags = CMD_STORE | CMD_NO_CONFIG,
	.usage = "version",
	.summary = "print the version, the git commit and the library versions",
};
