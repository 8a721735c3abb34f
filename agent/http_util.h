/* http_util: string helpers of the http module (agent/http_*.c) and of
 * the API's router (route.c, which decodes path parameters); not used
 * elsewhere. The public helpers http_json_quote, http_query_param and
 * http_request_header are declared in http.h. */
#ifndef POOLPAIR_AGENT_HTTP_UTIL_H
#define POOLPAIR_AGENT_HTTP_UTIL_H

#include <stddef.h>

/* Percent-decode in[0..len) ('+' as a space when plus is non-zero) into
 * out (outcap bytes), NUL-terminated. Returns 0, UV_EINVAL (a malformed
 * escape, or one that decodes to NUL) or UV_ENOBUFS (out is too small; out
 * then holds ""). */
int http_util_pct_decode(const char *in, size_t len, int plus, char *out,
			 size_t outcap);

/* Whether s[0..len) holds a control character: a byte below 0x20, or
 * 0x7f. */
int http_util_has_control(const char *s, size_t len);

/* The path of a request: percent-decodes raw[0..len) ('+' stays '+') into
 * out (outcap bytes), NUL-terminated. Returns 0; UV_EINVAL (a malformed
 * escape, or one that decodes to NUL); UV_EILSEQ (a control character,
 * in raw or once decoded: %0D%0A; out then holds ""); or UV_ENOBUFS. A
 * path it accepts can go into a header as it was sent or decoded. */
int http_util_path_decode(const char *raw, size_t len, char *out,
			  size_t outcap);

#endif
