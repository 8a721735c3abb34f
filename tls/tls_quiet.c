/* tls_quiet: the table that keeps a peer retrying with a refused
 * certificate from logging a line per attempt; see tls.h. */
#include "tls/tls.h"

#include <stdio.h>
#include <string.h>

/* msg with " (and N more like it in the last minute)" when N > 0. */
static bool quiet_out(char *out, size_t outlen, const char *msg,
		      unsigned left_out)
{
	if (left_out > 0)
		snprintf(out, outlen,
			 "%s (and %u more like it in the last minute)", msg,
			 left_out);
	else
		snprintf(out, outlen, "%s", msg);
	return true;
}

bool tls_quiet_pass(struct tls_quiet *q, const char *addr, const char *msg,
		    uint64_t now_ms, char *out, size_t outlen)
{
	const char *colon = strrchr(addr, ':');
	size_t host_len = strlen(addr);
	unsigned oldest = 0, left_out;
	char key[TLS_ERRMSG_LEN];

	/* "ip:port" and "[v6]:port" lose the port; a bare v6 keeps all */
	if (colon != NULL && (strchr(addr, ':') == colon || colon[-1] == ']'))
		host_len = (size_t)(colon - addr);
	snprintf(key, sizeof key, "%.*s %s", (int)host_len, addr, msg);
	for (unsigned i = 0; i < TLS_QUIET_SLOTS; i++) {
		if (q->slot[i].key[0] != '\0' &&
		    strcmp(q->slot[i].key, key) == 0) {
			if (now_ms - q->slot[i].last_ms < TLS_QUIET_MS) {
				q->slot[i].left_out++;
				return false;
			}
			left_out = q->slot[i].left_out;
			q->slot[i].left_out = 0;
			q->slot[i].last_ms = now_ms;
			return quiet_out(out, outlen, msg, left_out);
		}
		if (q->slot[i].key[0] == '\0' ||
		    (q->slot[oldest].key[0] != '\0' &&
		     q->slot[i].last_ms < q->slot[oldest].last_ms))
			oldest = i;
	}
	snprintf(q->slot[oldest].key, sizeof q->slot[oldest].key, "%s", key);
	q->slot[oldest].last_ms = now_ms;
	q->slot[oldest].left_out = 0;
	return quiet_out(out, outlen, msg, 0);
}

