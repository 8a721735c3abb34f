/* verify_b64: strict padded base64 over OpenSSL's block codec (see
 * verify_b64.h).
 *
 * EVP_DecodeBlock alone is lax: it skips leading blanks, drops trailing
 * blanks, line ends and '-', takes '=' anywhere as a zero sextet, and
 * counts the padding in the length it returns. So the input is checked
 * here first, character by character, and only what passes goes to it;
 * the padding is then taken off its length. */
#include "agent/verify_b64.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>

#include <openssl/evp.h>

char *verify_b64_encode(const uint8_t *in, size_t n, size_t *outlen)
{
	size_t len;
	char *out;
	int rv;

	if (n > VERIFY_B64_IN_MAX)
		return NULL;
	len = (n + 2) / 3 * 4;
	out = malloc(len + 1);
	if (out == NULL)
		return NULL;
	rv = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	if (rv < 0 || (size_t)rv != len) {
		free(out);
		return NULL;
	}
	out[len] = '\0';
	*outlen = len;
	return out;
}

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

int verify_b64_decode(const char *in, size_t n, uint8_t **out, size_t *outlen)
{
	size_t pad = 0, i;
	uint8_t *buf;
	int rv;

	while (n > 0 && (in[n - 1] == '\n' || in[n - 1] == '\r' ||
			 in[n - 1] == ' ' || in[n - 1] == '\t'))
		n--;
	if (n == 0 || n % 4 != 0 || n / 4 * 3 > INT_MAX)
		return -EINVAL;
	if (in[n - 1] == '=')
		pad = in[n - 2] == '=' ? 2 : 1;
	for (i = 0; i < n - pad; i++)
		if (!b64_char(in[i]))
			return -EINVAL;
	buf = malloc(n / 4 * 3);
	if (buf == NULL)
		return -ENOMEM;
	rv = EVP_DecodeBlock(buf, (const unsigned char *)in, (int)n);
	if (rv < 0 || (size_t)rv != n / 4 * 3) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	*outlen = (size_t)rv - pad;
	return 0;
}
