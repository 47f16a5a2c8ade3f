/*
 * testutil.h - what the unit tests share besides tap.h: reading a whole file and a
 * temporary directory. A fixture that cannot be read, or a directory that cannot be
 * made, ends the test with TAP's "Bail out!": nothing after it would mean anything.
 *
 *   size_t len;
 *   char *text = t_slurp("fixtures/bills/x.csv", &len);   NUL-terminated, free() it
 *   char dir[4096];
 *   t_tmpdir(dir, sizeof(dir), "t-name");                  $TMPDIR/t-name.XXXXXX
 *   ...
 *   t_rm_tree(dir);
 */
#ifndef WXR_TESTUTIL_H
#define WXR_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The whole file at path, NUL-terminated; *out_len (when not NULL) its length. */
__attribute__((unused)) static char *t_slurp(const char *path, size_t *out_len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		printf("Bail out! cannot open %s: %s (run from the source tree)\n", path,
		       strerror(errno));
		exit(1);
	}
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			data = realloc(data, cap + 1);
			if (!data) {
				printf("Bail out! out of memory reading %s\n", path);
				exit(1);
			}
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		printf("Bail out! cannot read %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fclose(f);
	data[len] = '\0';
	if (out_len)
		*out_len = len;
	return data;
}

/* A new directory $TMPDIR/<name>.XXXXXX (/tmp without TMPDIR), its path in out. */
__attribute__((unused)) static void t_tmpdir(char *out, size_t size, const char *name)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(out, size, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
	if (!mkdtemp(out)) {
		printf("Bail out! cannot make a temporary directory %s: %s\n", out,
		       strerror(errno));
		exit(1);
	}
}

/* Removes dir and everything under it (symbolic links are removed, not followed). */
__attribute__((unused)) static void t_rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];
	struct stat st;

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			t_rm_tree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

#endif
