/* frame: 16-byte checksummed header, encoder and streaming decoder. */
#include "replication/frame.h"

#include <stdlib.h>
#include <string.h>

#include "replication/crc32c.h"

/* A header that passed every check. */
struct header {
	uint32_t len;
	uint8_t type;
	uint16_t flags;
	uint32_t payload_crc;
};

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint16_t get_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static int type_known(unsigned type)
{
	return type >= FRAME_TYPE_MIN && type <= FRAME_TYPE_MAX;
}

int frame_encode_header(uint8_t out[FRAME_HEADER_LEN], uint8_t type,
			uint16_t flags, const void *payload, size_t len)
{
	uint8_t h[FRAME_HEADER_LEN];

	if (out == NULL || (payload == NULL && len > 0))
		return FRAME_E_ARG;
	if (!type_known(type))
		return FRAME_E_TYPE;
	if ((flags & ~FRAME_FLAGS_KNOWN) != 0)
		return FRAME_E_FLAGS;
	if (len > FRAME_HARD_MAX_PAYLOAD)
		return FRAME_E_TOO_LARGE;
	put_le32(h, (uint32_t)len);
	h[4] = type;
	h[5] = FRAME_VERSION;
	put_le16(h + 6, flags);
	put_le32(h + 8, crc32c(0, payload, len));
	put_le32(h + 12, crc32c(0, h, 12));
	memcpy(out, h, sizeof(h));
	return 0;
}

/* Check the 16 header bytes at p; the checksum first, so that no other
 * field is believed before it matches. */
static int header_parse(const uint8_t *p, size_t max_payload,
			struct header *out)
{
	if (crc32c(0, p, 12) != get_le32(p + 12))
		return FRAME_E_HEADER_CRC;
	if (p[5] != FRAME_VERSION)
		return FRAME_E_VERSION;
	if (!type_known(p[4]))
		return FRAME_E_TYPE;
	out->flags = get_le16(p + 6);
	if ((out->flags & ~FRAME_FLAGS_KNOWN) != 0)
		return FRAME_E_FLAGS;
	out->len = get_le32(p);
	if (out->len > max_payload)
		return FRAME_E_TOO_LARGE;
	out->type = p[4];
	out->payload_crc = get_le32(p + 8);
	return 0;
}

int frame_decoder_init(struct frame_decoder *d, size_t max_payload)
{
	if (d == NULL)
		return FRAME_E_ARG;
	memset(d, 0, sizeof(*d));
	return frame_decoder_set_max(d, max_payload);
}

int frame_decoder_set_max(struct frame_decoder *d, size_t max_payload)
{
	if (d == NULL)
		return FRAME_E_ARG;
	if (max_payload == 0)
		max_payload = FRAME_DEFAULT_MAX_PAYLOAD;
	if (max_payload > FRAME_HARD_MAX_PAYLOAD)
		return FRAME_E_ARG;
	d->max_payload = max_payload;
	return 0;
}

void frame_decoder_close(struct frame_decoder *d)
{
	if (d == NULL)
		return;
	free(d->buf);
	memset(d, 0, sizeof(*d));
}

int frame_decoder_feed(struct frame_decoder *d, const void *buf, size_t len)
{
	if (d == NULL || (buf == NULL && len > 0))
		return FRAME_E_ARG;
	if (d->err != 0)
		return d->err;
	if (d->in_pos < d->in_len)
		return FRAME_E_BUSY;
	d->in = buf;
	d->in_len = len;
	d->in_pos = 0;
	return 0;
}

static int fail(struct frame_decoder *d, int err)
{
	d->err = err;
	d->in = NULL;
	d->in_len = 0;
	d->in_pos = 0;
	return err;
}

/* Make room for need bytes of partial frame in d->buf. need never exceeds
 * FRAME_HEADER_LEN + d->max_payload. */
static int buf_reserve(struct frame_decoder *d, size_t need)
{
	size_t cap;
	uint8_t *p;

	if (d->buf_cap >= need)
		return 0;
	cap = d->buf_cap * 2;
	if (cap < need)
		cap = need;
	if (cap > FRAME_HEADER_LEN + d->max_payload)
		cap = FRAME_HEADER_LEN + d->max_payload;
	p = realloc(d->buf, cap);
	if (p == NULL)
		return FRAME_E_NOMEM;
	d->buf = p;
	d->buf_cap = cap;
	return 0;
}

/* Move up to want bytes of the fed chunk to the end of the partial frame
 * (room already reserved). */
static void take(struct frame_decoder *d, size_t want)
{
	size_t avail = d->in_len - d->in_pos;

	if (want > avail)
		want = avail;
	if (want == 0)
		return;
	memcpy(d->buf + d->buf_len, d->in + d->in_pos, want);
	d->buf_len += want;
	d->in_pos += want;
}

/* The chunk is used up: forget it, so the caller may release it. */
static int need_more(struct frame_decoder *d)
{
	d->in = NULL;
	d->in_len = 0;
	d->in_pos = 0;
	return 0;
}

static int deliver(const uint8_t *frame, const struct header *h,
		   struct frame *out)
{
	const uint8_t *payload = frame + FRAME_HEADER_LEN;

	if (crc32c(0, payload, h->len) != h->payload_crc)
		return FRAME_E_PAYLOAD_CRC;
	out->type = h->type;
	out->flags = h->flags;
	out->payload = payload;
	out->len = h->len;
	return 1;
}

int frame_decoder_next(struct frame_decoder *d, struct frame *out)
{
	struct header h;
	size_t total;
	int rc;

	if (d == NULL || out == NULL)
		return FRAME_E_ARG;
	if (d->err != 0)
		return d->err;
	if (d->release) {
		d->release = 0;
		d->buf_len = 0;
	}
	/* Nothing pending from an earlier chunk and a whole header here:
	 * decode in place when the whole frame is in this chunk. */
	if (d->buf_len == 0 && d->in_len - d->in_pos >= FRAME_HEADER_LEN) {
		const uint8_t *p = d->in + d->in_pos;

		rc = header_parse(p, d->max_payload, &h);
		if (rc != 0)
			return fail(d, rc);
		total = FRAME_HEADER_LEN + (size_t)h.len;
		if (d->in_len - d->in_pos >= total) {
			rc = deliver(p, &h, out);
			if (rc < 0)
				return fail(d, rc);
			d->in_pos += total;
			return 1;
		}
	}
	/* Otherwise assemble the frame in our own buffer. */
	if (d->in_pos == d->in_len && d->buf_len == 0)
		return need_more(d);
	if (d->buf_len < FRAME_HEADER_LEN) {
		rc = buf_reserve(d, FRAME_HEADER_LEN);
		if (rc != 0)
			return fail(d, rc);
		take(d, FRAME_HEADER_LEN - d->buf_len);
		if (d->buf_len < FRAME_HEADER_LEN)
			return need_more(d);
	}
	rc = header_parse(d->buf, d->max_payload, &h);
	if (rc != 0)
		return fail(d, rc);
	total = FRAME_HEADER_LEN + (size_t)h.len;
	rc = buf_reserve(d, total);
	if (rc != 0)
		return fail(d, rc);
	take(d, total - d->buf_len);
	if (d->buf_len < total)
		return need_more(d);
	rc = deliver(d->buf, &h, out);
	if (rc < 0)
		return fail(d, rc);
	d->release = 1;
	return 1;
}

size_t frame_decoder_pending(const struct frame_decoder *d)
{
	if (d == NULL)
		return 0;
	return (d->release ? 0 : d->buf_len) + (d->in_len - d->in_pos);
}

const char *frame_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case FRAME_E_HEADER_CRC:
		return "header checksum mismatch";
	case FRAME_E_PAYLOAD_CRC:
		return "payload checksum mismatch";
	case FRAME_E_TOO_LARGE:
		return "payload too large";
	case FRAME_E_VERSION:
		return "unknown frame version";
	case FRAME_E_TYPE:
		return "unknown frame type";
	case FRAME_E_NOMEM:
		return "out of memory";
	case FRAME_E_FLAGS:
		return "unknown frame flags";
	case FRAME_E_ARG:
		return "invalid argument";
	case FRAME_E_BUSY:
		return "previous chunk not yet decoded";
	default:
		return "unknown frame error";
	}
}

const char *frame_type_name(uint8_t type)
{
	switch (type) {
	case FRAME_HELLO:
		return "hello";
	case FRAME_RECORDS:
		return "records";
	case FRAME_ACK:
		return "ack";
	case FRAME_PING:
		return "ping";
	case FRAME_PONG:
		return "pong";
	case FRAME_ERROR:
		return "error";
	case FRAME_SEED_BEGIN:
		return "seed-begin";
	case FRAME_SEED_RECORDS:
		return "seed-records";
	case FRAME_SEED_END:
		return "seed-end";
	default:
		return "unknown";
	}
}
