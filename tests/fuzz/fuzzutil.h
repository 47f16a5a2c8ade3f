/*
 * fuzzutil.h - helpers shared by the fuzz targets (tests/fuzz/fuzz-*.c) and
 * the replay driver (replay.c).
 *
 * Every target defines LLVMFuzzerTestOneInput(). It is built twice: with
 * clang -fsanitize=fuzzer as a libFuzzer binary (make fuzz, build-fuzz/), and
 * with the normal compiler linked with replay.c as a TAP test that runs it
 * over its corpus (build/tests/fuzz/replay-<target>.t, run by make test and
 * make asan).
 */
#ifndef WXR_FUZZUTIL_H
#define WXR_FUZZUTIL_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Defined in fuzzutil.c: remembers argv[0] (libFuzzer and replay.c call it). */
int LLVMFuzzerInitialize(int *argc, char ***argv);

/*
 * An oracle failed: prints the message and aborts, which libFuzzer reports
 * as a crash (with the input saved) and prove as a failed test.
 */
#define FUZZ_ASSERT(cond, ...)                                             \
	do {                                                               \
		if (!(cond))                                               \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} while (0)

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
        __attribute__((noreturn, format(printf, 4, 5)));

/*
 * Path of a file under fixtures/ (e.g. "vectors/go/test_private_key.pem"):
 * $WXRECON_FIXTURES, else ./fixtures, else fixtures/ found above the
 * binary's directory. Returns a static buffer, or aborts when not found.
 */
const char *fuzz_fixture(const char *name);
/* Reads a whole fixture file; new buffer (NUL-terminated), caller frees. */
char *fuzz_fixture_read(const char *name, size_t *out_len);

/*
 * A temporary file whose name ends in suffix (".conf", ".job"), created once
 * per process and removed at exit; fuzz_tmpfile_write() replaces its content.
 */
const char *fuzz_tmpfile(const char *suffix);
void fuzz_tmpfile_write(const char *path, const void *data, size_t size);

/* Copy of data as a NUL-terminated string (it may hold NULs); caller frees. */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* FNV-1a, for deriving choices (chunk sizes...) from the input. */
uint64_t fuzz_hash(const void *data, size_t size, uint64_t h);
#define FUZZ_HASH_INIT 14695981039346656037ull

#endif
