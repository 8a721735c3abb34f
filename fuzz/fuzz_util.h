/* fuzz_util: what every fuzz target shares: the libFuzzer entry point's
 * prototype and a check that aborts (so libFuzzer keeps the input as a
 * crash) with a message naming the broken property. */
#ifndef POOLPAIR_FUZZ_UTIL_H
#define POOLPAIR_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with "fuzz: FILE:LINE: property broken: TEXT" unless cond holds. */
#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz: %s:%d: property broken: ",      \
				__FILE__, __LINE__);                           \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			abort();                                               \
		}                                                              \
	} while (0)

/* A malloc()ed copy of the n bytes at p, exactly n bytes long (so that
 * AddressSanitizer sees any read past the end); never NULL. */
static inline void *fuzz_dup(const void *p, size_t n)
{
	unsigned char *q = malloc(n > 0 ? n : 1);
	size_t i;

	if (q == NULL) {
		abort();
	}
	for (i = 0; i < n; i++) {
		q[i] = ((const unsigned char *)p)[i];
	}
	return q;
}

/* Whether the array s of cap bytes holds a NUL. */
static inline int fuzz_terminated(const char *s, size_t cap)
{
	size_t i;

	for (i = 0; i < cap; i++) {
		if (s[i] == '\0') {
			return 1;
		}
	}
	return 0;
}

#endif /* POOLPAIR_FUZZ_UTIL_H */
