/*
 * replay.c - runs a fuzz target without libFuzzer: every file of its corpus
 * (fixtures/corpus/<target>/, the target named by the binary's name
 * replay-<target>.t; or the files and directories named on the command
 * line) goes once through LLVMFuzzerTestOneInput(), one TAP test per file. Built with the normal
 * compiler as build/tests/fuzz/replay-<target>.t so that make test and make asan replay every seed
 * and every past crash.
 *
 * A file that makes the target crash or trip an oracle aborts the binary
 * after "# replaying <file>", which prove reports as a failure.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fuzzutil.h"

static int ntests;
static int nfailed;

static unsigned char *read_file(const char *path, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return NULL;
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 65536;
			p = realloc(p, cap);
			if (!p)
				abort();
		}
		n = fread(p + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	fclose(f);
	*out_len = len;
	return p;
}

static void replay_file(const char *path)
{
	unsigned char *data, *copy;
	size_t len = 0;

	data = read_file(path, &len);
	if (!data) {
		printf("not ok %d - cannot read %s\n", ++ntests, path);
		nfailed++;
		return;
	}
	/* An exact-size copy, so that ASan sees reads past the end of the input. */
	copy = malloc(len ? len : 1);
	if (!copy)
		abort();
	memcpy(copy, data, len);
	free(data);
	printf("# replaying %s\n", path);
	fflush(stdout);
	LLVMFuzzerTestOneInput(copy, len);
	free(copy);
	printf("ok %d - %s (%zu bytes)\n", ++ntests, path, len);
	fflush(stdout);
}

static int not_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

static void replay_path(const char *path)
{
	struct dirent **names = NULL;
	struct stat st;
	int n;

	if (stat(path, &st) < 0) {
		printf("not ok %d - cannot stat %s\n", ++ntests, path);
		nfailed++;
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		replay_file(path);
		return;
	}
	n = scandir(path, &names, not_hidden, alphasort);
	if (n < 0) {
		printf("not ok %d - cannot list %s\n", ++ntests, path);
		nfailed++;
		return;
	}
	for (int i = 0; i < n; i++) {
		size_t size = strlen(path) + strlen(names[i]->d_name) + 2;
		char *p = malloc(size);

		if (!p)
			abort();
		snprintf(p, size, "%s/%s", path, names[i]->d_name);
		free(names[i]);
		replay_file(p);
		free(p);
	}
	free(names);
}

/* "build/tests/fuzz/replay-money.t" -> "corpus/money" */
static const char *corpus_name(const char *argv0)
{
	static char name[512];
	const char *base = strrchr(argv0, '/');
	size_t n;

	base = base ? base + 1 : argv0;
	if (strncmp(base, "replay-", 7) == 0)
		base += 7;
	n = strlen(base);
	if (n > 2 && strcmp(base + n - 2, ".t") == 0)
		n -= 2;
	snprintf(name, sizeof(name), "corpus/%.*s", (int)n, base);
	return name;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;

	LLVMFuzzerInitialize(&argc, &argv);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			replay_path(argv[i]);
	} else {
		char dir[8400];

		snprintf(dir, sizeof(dir), "%s", fuzz_fixture(corpus_name(argv[0])));
		replay_path(dir);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ntests == 0) {
		printf("not ok %d - no inputs\n", ++ntests);
		nfailed++;
	}
	printf("# %d inputs in %.3f s\n", ntests,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	printf("1..%d\n", ntests);
	return nfailed ? 1 : 0;
}
