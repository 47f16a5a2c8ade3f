/*
 * suggest.h - "did you mean": the closest of some candidate words to a
 * word someone typed (Levenshtein distance, at most 2 edits). One
 * implementation for commands, sub-commands, options and config keys.
 */
#ifndef WXR_SUGGEST_H
#define WXR_SUGGEST_H

#include <stddef.h>

struct suggest {
	const char *word; /* what was typed */
	const char *best; /* the closest candidate so far, or NULL */
	int best_len;     /* its length, for "%.*s" */
	size_t dist;      /* its distance */
};

void suggest_init(struct suggest *s, const char *word);
/* Offers a candidate; keeps it when it is closer than the best so far. */
void suggest_try(struct suggest *s, const char *candidate);
/* Offers a candidate of n bytes (not NUL-terminated). */
void suggest_try_n(struct suggest *s, const char *candidate, size_t n);

#endif
