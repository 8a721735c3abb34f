/* fuzz_path: the decoding of a request's path (agent/http_util.h
 * http_util_path_decode: what the HTTP server hands the router as
 * req->path, or refuses with 400).
 *
 * Input: the path as a client would send it (any bytes; a NUL ends it, as
 * the server never sees one inside a request target).
 * Properties checked:
 *   - http_util_path_decode agrees with a reference decoder written here:
 *     0 exactly when every escape is well formed, none decodes to NUL, and
 *     neither the path as sent nor the decoded one holds a control
 *     character (a byte below 0x20, or 0x7f); then the output is that
 *     decoding, never longer than the input; UV_EILSEQ leaves "";
 *   - a decoded path, percent-encoded again byte by byte, decodes back to
 *     itself;
 *   - a too small output buffer gives UV_ENOBUFS (or the same refusal),
 *     never a write past it (AddressSanitizer);
 *   - for a path the decoder accepts, the redirect to the leader (scheme,
 *     address, the path as sent, as agent/route.c builds it) holds no CR
 *     or LF. */
#include <string.h>

#include <uv.h>

#include "agent/http_util.h"
#include "fuzz/fuzz_util.h"

#define PATH_MAX_LEN 4096

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int control(unsigned char c) { return c < 0x20 || c == 0x7f; }

/* The reference: UV_EINVAL, UV_EILSEQ or 0 with out (room for len + 1). */
static int reference(const char *raw, size_t len, char *out)
{
	size_t i = 0, n = 0;
	int ctl = 0;

	while (i < len) {
		unsigned char c = (unsigned char)raw[i];

		if (control(c))
			ctl = 1;
		if (c == '%') {
			int hi, lo;

			if (len - i < 3)
				return UV_EINVAL;
			hi = hexval((unsigned char)raw[i + 1]);
			lo = hexval((unsigned char)raw[i + 2]);
			if (hi < 0 || lo < 0 || hi * 16 + lo == 0)
				return UV_EINVAL;
			c = (unsigned char)(hi * 16 + lo);
			i += 3;
		} else {
			i++;
		}
		if (control(c))
			ctl = 1;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return ctl ? UV_EILSEQ : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char raw[PATH_MAX_LEN + 1];
	static char out[PATH_MAX_LEN + 1], want[PATH_MAX_LEN + 1];
	static char again[3 * PATH_MAX_LEN + 1], back[PATH_MAX_LEN + 1];
	size_t len = size < PATH_MAX_LEN ? size : PATH_MAX_LEN;
	char *small;
	int rv, ref;

	memcpy(raw, data, len);
	raw[len] = '\0';
	len = strlen(raw);

	rv = http_util_path_decode(raw, len, out, len + 1);
	ref = reference(raw, len, want);
	FUZZ_CHECK(rv == ref, "decoder %d, reference %d", rv, ref);
	if (rv == UV_EILSEQ)
		FUZZ_CHECK(out[0] == '\0', "a refused path left output");
	if (rv == 0) {
		size_t n = strlen(out);

		FUZZ_CHECK(strcmp(out, want) == 0, "decoded differently");
		FUZZ_CHECK(n <= len, "decoded longer than sent");
		FUZZ_CHECK(!http_util_has_control(out, n), "control character");
		for (size_t i = 0; i < n; i++)
			snprintf(again + 3 * i, 4, "%%%02X",
				 (unsigned char)out[i]);
		FUZZ_CHECK(http_util_path_decode(again, 3 * n, back,
						 sizeof back) == 0 &&
			       strcmp(back, out) == 0,
			   "re-encoded path does not decode back");
	}

	/* an exact-size buffer one byte short: no write past it */
	if (len > 0) {
		small = fuzz_dup("", len);
		rv = http_util_path_decode(raw, len, small, len);
		FUZZ_CHECK(rv == UV_ENOBUFS || rv == ref,
			   "short buffer: %d (reference %d)", rv, ref);
		free(small);
	}

	if (ref == 0) {
		char location[PATH_MAX_LEN + 64];

		/* what redirected() builds from the path as sent */
		snprintf(location, sizeof location, "https://10.0.0.1:7101%s",
			 raw);
		FUZZ_CHECK(strpbrk(location, "\r\n") == NULL,
			   "CR or LF in Location");
	}
	return 0;
}
