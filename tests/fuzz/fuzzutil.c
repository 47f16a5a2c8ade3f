/* fuzzutil.c - see fuzzutil.h. */
#include "fuzzutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_TMPFILES 4

static char argv0[4096];
static char fixtures[4096];
static char tmpfiles[MAX_TMPFILES][4096];
static int ntmpfiles;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	if (*argc > 0 && (*argv)[0])
		snprintf(argv0, sizeof(argv0), "%s", (*argv)[0]);
	return 0;
}

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s:%d: fuzz oracle failed: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static int is_fixtures(const char *dir)
{
	char p[4200];

	snprintf(p, sizeof(p), "%s/vectors/README.md", dir);
	return access(p, R_OK) == 0;
}

static void find_fixtures(void)
{
	const char *env = getenv("WXRECON_FIXTURES");
	char dir[4096];
	char *slash;

	if (env && *env) {
		snprintf(fixtures, sizeof(fixtures), "%s", env);
		return;
	}
	if (is_fixtures("fixtures")) {
		snprintf(fixtures, sizeof(fixtures), "fixtures");
		return;
	}
	/* build/tests/fuzz/replay-x.t, build-fuzz/fuzz-x: walk up from the binary. */
	snprintf(dir, sizeof(dir), "%s", argv0);
	for (int up = 0; up < 5; up++) {
		slash = strrchr(dir, '/');
		if (!slash)
			break;
		*slash = '\0';
		snprintf(fixtures, sizeof(fixtures), "%s/fixtures", dir);
		if (is_fixtures(fixtures))
			return;
	}
	fprintf(stderr, "fuzz: cannot find fixtures/ (set WXRECON_FIXTURES)\n");
	abort();
}

const char *fuzz_fixture(const char *name)
{
	static char path[8300];

	if (!fixtures[0])
		find_fixtures();
	snprintf(path, sizeof(path), "%s/%s", fixtures, name);
	return path;
}

char *fuzz_fixture_read(const char *name, size_t *out_len)
{
	const char *path = fuzz_fixture(name);
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "fuzz: cannot open '%s'\n", path);
		abort();
	}
	do {
		if (cap - len < 4097) {
			cap = cap ? cap * 2 : 8192;
			p = realloc(p, cap);
			if (!p)
				abort();
		}
		n = fread(p + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	fclose(f);
	p[len] = '\0';
	if (out_len)
		*out_len = len;
	return p;
}

static void remove_tmpfiles(void)
{
	for (int i = 0; i < ntmpfiles; i++)
		unlink(tmpfiles[i]);
}

const char *fuzz_tmpfile(const char *suffix)
{
	const char *dir = getenv("TMPDIR");
	char *path;
	int fd;

	if (ntmpfiles == MAX_TMPFILES)
		abort();
	path = tmpfiles[ntmpfiles];
	snprintf(path, sizeof(tmpfiles[0]), "%s/wxrfuzz-XXXXXX%s", dir && *dir ? dir : "/tmp",
	         suffix);
	fd = mkstemps(path, (int)strlen(suffix));
	if (fd < 0) {
		perror("fuzz: mkstemps");
		abort();
	}
	close(fd);
	if (ntmpfiles++ == 0)
		atexit(remove_tmpfiles);
	return path;
}

void fuzz_tmpfile_write(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "wb");

	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
		perror("fuzz: writing the temporary file");
		abort();
	}
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

uint64_t fuzz_hash(const void *data, size_t size, uint64_t h)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < size; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	return h;
}
