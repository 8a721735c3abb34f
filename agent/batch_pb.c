/* batch_pb: the binary batch body decoded in place (see batch_pb.h). */
#include "agent/batch_pb.h"

#include <stdbool.h>
#include <stdio.h>
#include <strings.h>

enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2, WT_FIXED32 = 5 };

struct rd {
	const uint8_t *p, *end;
};

/* A varint of at most max_bytes bytes (10 for a value; 5 for a key or a
 * length, which are 32 bits); false when truncated or longer. */
static bool rd_varint(struct rd *r, unsigned max_bytes, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 7 * max_bytes; shift += 7) {
		uint8_t b;

		if (r->p == r->end)
			return false;
		b = *r->p++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* The field at r: its number and wire type, and for WT_LEN its bytes.
 * Other wire types are skipped. Returns 0, or -1 with msg set. */
static int rd_field(struct rd *r, const char *what, uint64_t *num, int *wt,
		    const uint8_t **data, size_t *len, char *msg,
		    size_t msg_len)
{
	uint64_t key, n;

	if (!rd_varint(r, 5, &key) || key > UINT32_MAX) {
		snprintf(msg, msg_len, "%s: truncated or overlong field key",
			 what);
		return -1;
	}
	*num = key >> 3;
	*wt = (int)(key & 7);
	if (*num == 0) {
		snprintf(msg, msg_len, "%s: field number 0", what);
		return -1;
	}
	switch (*wt) {
	case WT_VARINT:
		if (!rd_varint(r, 10, &n)) {
			snprintf(msg, msg_len, "%s: truncated varint", what);
			return -1;
		}
		return 0;
	case WT_FIXED64:
	case WT_FIXED32:
		n = *wt == WT_FIXED64 ? 8 : 4;
		if ((size_t)(r->end - r->p) < n) {
			snprintf(msg, msg_len, "%s: truncated fixed field",
				 what);
			return -1;
		}
		r->p += n;
		return 0;
	case WT_LEN:
		if (!rd_varint(r, 5, &n) || n > (uint64_t)(r->end - r->p)) {
			snprintf(msg, msg_len,
				 "%s: length past the end of the body", what);
			return -1;
		}
		*data = r->p;
		*len = (size_t)n;
		r->p += n;
		return 0;
	default:
		snprintf(msg, msg_len, "%s: wire type %d not accepted", what,
			 *wt);
		return -1;
	}
}

static int item_decode(const uint8_t *buf, size_t len, size_t i,
		       struct batch_pb_item *it, char *msg, size_t msg_len)
{
	struct rd r = {buf, buf + len};
	char what[32];

	snprintf(what, sizeof what, "items[%zu]", i);
	*it = (struct batch_pb_item){0};
	while (r.p < r.end) {
		const uint8_t *d = NULL;
		size_t n = 0;
		uint64_t num;
		int wt;

		if (rd_field(&r, what, &num, &wt, &d, &n, msg, msg_len) != 0)
			return -1;
		if (num > 3)
			continue; /* unknown: skipped */
		if (wt != WT_LEN) {
			snprintf(msg, msg_len, "%s: %s is not %s", what,
				 num == 1   ? "sip"
				 : num == 2 ? "kind"
					    : "value",
				 num == 3 ? "bytes" : "a string");
			return -1;
		}
		if (num == 1) {
			it->sip = (const char *)d;
			it->sip_len = n;
		} else if (num == 2) {
			it->kind = (const char *)d;
			it->kind_len = n;
		} else {
			it->value = d;
			it->value_len = n;
		}
	}
	return 0;
}

int batch_pb_decode(const void *buf, size_t len, struct batch_pb_item *items,
		    size_t max, char *msg, size_t msg_len)
{
	struct rd r = {buf, (const uint8_t *)buf + len};
	size_t count = 0;

	if (msg_len > 0)
		msg[0] = '\0';
	if (buf == NULL && len > 0) {
		snprintf(msg, msg_len, "no body");
		return -1;
	}
	while (r.p < r.end) {
		const uint8_t *d = NULL;
		size_t n = 0;
		uint64_t num;
		int wt;

		if (rd_field(&r, "batch", &num, &wt, &d, &n, msg, msg_len) != 0)
			return -1;
		if (num != 1)
			continue; /* unknown: skipped */
		if (wt != WT_LEN) {
			snprintf(msg, msg_len, "batch: items is not a message");
			return -1;
		}
		if (count >= max) {
			snprintf(msg, msg_len, "batch: more than %zu items",
				 max);
			return -1;
		}
		if (item_decode(d, n, count, &items[count], msg, msg_len) != 0)
			return -1;
		count++;
	}
	return (int)count;
}

int batch_pb_content_type(const char *ct)
{
	size_t n = sizeof BATCH_PB_CONTENT_TYPE - 1;

	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, BATCH_PB_CONTENT_TYPE, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}
