/*
 * suggest.c - "did you mean" (suggest.h).
 */
#include "base/suggest.h"

#include <string.h>

#define SUGGEST_MAX_EDITS 2
#define SUGGEST_MAX_LEN   63

/* Levenshtein distance of a and b[0..lb), or a large number for long words. */
static size_t edit_distance(const char *a, const char *b, size_t lb)
{
	size_t la = strlen(a);
	size_t row[SUGGEST_MAX_LEN + 1];

	if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t prev = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cur = row[j];
			size_t best = prev + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			prev = cur;
		}
	}
	return row[lb];
}

void suggest_init(struct suggest *s, const char *word)
{
	s->word = word;
	s->best = NULL;
	s->dist = SUGGEST_MAX_EDITS + 1;
}

void suggest_try_n(struct suggest *s, const char *candidate, size_t n)
{
	size_t d = edit_distance(s->word, candidate, n);

	if (d < s->dist) {
		s->dist = d;
		s->best = candidate;
		s->best_len = (int)n;
	}
}

void suggest_try(struct suggest *s, const char *candidate)
{
	suggest_try_n(s, candidate, strlen(candidate));
}
