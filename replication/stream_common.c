/* stream_common: frame writing, HELLO/ACK checks, throughput samples. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/frame.h"
#include "replication/stream_common.h"
#include "tls/tls.h"

#define STREAM_MAX_POSITIONS 64

const char *stream_strerror(int rv)
{
	switch (rv) {
	case 0:
		return "ok";
	case STREAM_E_ARG:
		return "invalid argument";
	case STREAM_E_NOMEM:
		return "out of memory";
	case STREAM_E_CLOSING:
		return "closing";
	case STREAM_E_NOT_FOUND:
		return "no such stream";
	default:
		break;
	}
	if (rv <= TLS_E_CONFIG && rv >= TLS_E_CLOSING)
		return tls_strerror(rv); /* sent by tls_conn_write() */
	if (rv < 0 && rv > -4000)
		return uv_strerror(rv);
	return "unknown error";
}

const char *stream_lane_name(int lane)
{
	switch (lane) {
	case POOLPAIR__REPL__LANE__LANE_DATA:
		return "data";
	case POOLPAIR__REPL__LANE__LANE_CONTENT:
		return "content";
	default:
		return "?";
	}
}

/* One queued frame: the write request, then header and payload. */
struct stream_wreq {
	uv_write_t req;
	void *payload; /* owned */
	uint8_t header[FRAME_HEADER_LEN];
};

static void stream_write_done(uv_write_t *req, int status)
{
	struct stream_wreq *w = (struct stream_wreq *)req;
	(void)status; /* a failed write shows up as a read error or EOF */
	free(w->payload);
	free(w);
}

int stream_write_frame_owned(uv_stream_t *h, uint8_t type, uint16_t flags,
			     void *payload, size_t len)
{
	struct stream_wreq *w;
	uv_buf_t bufs[2];
	unsigned nbufs = 1;
	int rv;

	w = malloc(sizeof(*w));
	if (w == NULL) {
		free(payload);
		return STREAM_E_NOMEM;
	}
	rv = frame_encode_header(w->header, type, flags, payload, len);
	if (rv != 0) {
		free(payload);
		free(w);
		return rv;
	}
	w->payload = payload;
	bufs[0] = uv_buf_init((char *)w->header, FRAME_HEADER_LEN);
	if (len > 0) {
		bufs[1] = uv_buf_init(payload, (unsigned)len);
		nbufs = 2;
	}
	rv = uv_write(&w->req, h, bufs, nbufs, stream_write_done);
	if (rv != 0) {
		free(payload);
		free(w);
		return rv;
	}
	return 0;
}

int stream_write_frame(uv_stream_t *h, uint8_t type, uint16_t flags,
		       const void *payload, size_t len)
{
	void *copy = NULL;

	if (len > 0) {
		if (payload == NULL)
			return FRAME_E_ARG;
		copy = malloc(len);
		if (copy == NULL)
			return STREAM_E_NOMEM;
		memcpy(copy, payload, len);
	}
	return stream_write_frame_owned(h, type, flags, copy, len);
}

int stream_write_message(uv_stream_t *h, uint8_t type,
			 const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(len > 0 ? len : 1);

	if (buf == NULL)
		return STREAM_E_NOMEM;
	protobuf_c_message_pack(msg, buf);
	return stream_write_frame_owned(h, type, 0, buf, len);
}

int stream_tls_write_frame_owned(struct tls_conn *c, uint8_t type,
				 uint16_t flags, void *payload, size_t len)
{
	uint8_t header[FRAME_HEADER_LEN];
	uv_buf_t bufs[2];
	unsigned nbufs = 1;
	int rv;

	rv = frame_encode_header(header, type, flags, payload, len);
	if (rv == 0) {
		bufs[0] = uv_buf_init((char *)header, FRAME_HEADER_LEN);
		if (len > 0) {
			bufs[1] = uv_buf_init(payload, (unsigned)len);
			nbufs = 2;
		}
		/* copied (encrypted) before it returns */
		rv = tls_conn_write(c, bufs, nbufs, NULL, NULL);
		if (rv == TLS_E_NOMEM)
			rv = STREAM_E_NOMEM;
	}
	free(payload);
	return rv;
}

int stream_tls_write_frame(struct tls_conn *c, uint8_t type, uint16_t flags,
			   const void *payload, size_t len)
{
	void *copy = NULL;

	if (len > 0) {
		if (payload == NULL)
			return FRAME_E_ARG;
		copy = malloc(len);
		if (copy == NULL)
			return STREAM_E_NOMEM;
		memcpy(copy, payload, len);
	}
	return stream_tls_write_frame_owned(c, type, flags, copy, len);
}

int stream_tls_write_message(struct tls_conn *c, uint8_t type,
			     const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(len > 0 ? len : 1);

	if (buf == NULL)
		return STREAM_E_NOMEM;
	protobuf_c_message_pack(msg, buf);
	return stream_tls_write_frame_owned(c, type, 0, buf, len);
}

static int name_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && strlen(s) < STREAM_NAME_MAX;
}

static int positions_check(Poolpair__Repl__StreamPosition *const *v, size_t n,
			   char *errbuf, size_t len)
{
	size_t i, j;

	if (n > STREAM_MAX_POSITIONS) {
		snprintf(errbuf, len, "%zu positions, at most %d", n,
			 STREAM_MAX_POSITIONS);
		return STREAM_E_ARG;
	}
	for (i = 0; i < n; i++) {
		const Poolpair__Repl__StreamPosition *p = v[i];
		if (p == NULL || !name_ok(p->user_set)) {
			snprintf(errbuf, len, "position %zu: bad user set name",
				 i);
			return STREAM_E_ARG;
		}
		if (p->lane != POOLPAIR__REPL__LANE__LANE_DATA &&
		    p->lane != POOLPAIR__REPL__LANE__LANE_CONTENT) {
			snprintf(errbuf, len, "position %zu: unknown lane %d",
				 i, (int)p->lane);
			return STREAM_E_ARG;
		}
		for (j = 0; j < i; j++) {
			if (v[j]->lane == p->lane &&
			    strcmp(v[j]->user_set, p->user_set) == 0) {
				snprintf(errbuf, len,
					 "position %zu: %s/%s named twice", i,
					 p->user_set, stream_lane_name(p->lane));
				return STREAM_E_ARG;
			}
		}
	}
	return 0;
}

int stream_hello_check(const Poolpair__Repl__Hello *h, char *errbuf,
		       size_t len)
{
	if (h == NULL)
		return STREAM_E_ARG;
	if (!name_ok(h->from_pool) || !name_ok(h->to_pool)) {
		snprintf(errbuf, len, "hello: bad pool name");
		return STREAM_E_ARG;
	}
	return positions_check(h->positions, h->n_positions, errbuf, len);
}

int stream_ack_check(const Poolpair__Repl__Ack *a, char *errbuf, size_t len)
{
	if (a == NULL)
		return STREAM_E_ARG;
	return positions_check(a->positions, a->n_positions, errbuf, len);
}

void stream_rate_sample(struct stream_rate *r, uint64_t now_ms,
			uint64_t records, uint64_t bytes)
{
	r->t_ms[r->next] = now_ms;
	r->records[r->next] = records;
	r->bytes[r->next] = bytes;
	r->next = (r->next + 1) % STREAM_RATE_SAMPLES;
	if (r->n < STREAM_RATE_SAMPLES)
		r->n++;
}

void stream_rate_get(const struct stream_rate *r, double *records_per_s,
		     double *bytes_per_s)
{
	unsigned newest, oldest;
	double dt;

	*records_per_s = 0;
	*bytes_per_s = 0;
	if (r->n < 2)
		return;
	newest = (r->next + STREAM_RATE_SAMPLES - 1) % STREAM_RATE_SAMPLES;
	oldest = (r->next + STREAM_RATE_SAMPLES - r->n) % STREAM_RATE_SAMPLES;
	if (r->t_ms[newest] <= r->t_ms[oldest])
		return;
	dt = (double)(r->t_ms[newest] - r->t_ms[oldest]) / 1000.0;
	*records_per_s = (double)(r->records[newest] - r->records[oldest]) / dt;
	*bytes_per_s = (double)(r->bytes[newest] - r->bytes[oldest]) / dt;
}
