/* verify_b64: base64 as the verify routes speak it (POST
 * /v1/internal/repair bodies, "key_b64" of keys that are not UTF-8): the
 * standard alphabet (A-Z a-z 0-9 + /), padded with '=' to a multiple of
 * four characters. OpenSSL's EVP_EncodeBlock / EVP_DecodeBlock do the
 * work; what is accepted is decided here, strictly.
 *
 * Pure: no I/O, any thread. */
#ifndef POOLPAIR_VERIFY_B64_H
#define POOLPAIR_VERIFY_B64_H

#include <stddef.h>
#include <stdint.h>

/* Longest input verify_b64_encode() takes (bytes); longer: NULL. */
#define VERIFY_B64_IN_MAX ((size_t)256 << 20)

/* Encode n bytes of in ("" for n == 0). Returns a NUL-terminated string,
 * owned by the caller (free()), with its length in *outlen; NULL when out
 * of memory or n > VERIFY_B64_IN_MAX. */
char *verify_b64_encode(const uint8_t *in, size_t n, size_t *outlen);

/* Decode n characters of in (not NUL-terminated; may hold NUL bytes,
 * which are refused). Accepted: one or more groups of four alphabet
 * characters, the last group ending in at most two '=' (only there),
 * followed by any number of '\n', '\r', ' ', '\t', which are dropped.
 * Refused: empty input (or only white space), a length that is not a
 * multiple of four, any other character (leading white space included),
 * '=' anywhere else. Bits below the last decoded byte are not checked.
 * Returns 0 with *out (malloc'd, owned by the caller) and *outlen (at
 * least 1) set; -EINVAL when refused; -ENOMEM. On error *out and *outlen
 * are left alone. */
int verify_b64_decode(const char *in, size_t n, uint8_t **out,
		      size_t *outlen);

#endif
