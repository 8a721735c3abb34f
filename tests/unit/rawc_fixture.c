/* rawc_fixture: see rawc_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "loop_fixture.h"
#include "rawc_fixture.h"
#include "replication/frame.h"
#include "replication/stream_common.h"

#define LANE_DATA POOLPAIR__REPL__LANE__LANE_DATA

static int flag_set(void *arg) { return *(const int *)arg != 0; }

int rawc_wait(uv_loop_t *loop, const int *flag, unsigned timeout_ms)
{
	return loop_until(loop, flag_set, (void *)flag, timeout_ms);
}

static void rawc_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct rawc *c = h->data;

	(void)hint;
	*buf = uv_buf_init(c->buf, sizeof(c->buf));
}

static void rawc_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct rawc *c = s->data;
	struct frame f;
	int rv;

	(void)buf;
	if (n < 0) {
		c->eof = 1;
		return;
	}
	assert_int_equal(frame_decoder_feed(&c->dec, c->buf, (size_t)n), 0);
	while ((rv = frame_decoder_next(&c->dec, &f)) == 1) {
		if (f.type == FRAME_HELLO) {
			Poolpair__Repl__Hello *h = poolpair__repl__hello__unpack(
			    NULL, f.len, f.payload);

			assert_non_null(h);
			c->hellos++;
			c->hello_dict = h->lz4_dict;
			poolpair__repl__hello__free_unpacked(h, NULL);
		} else if (f.type == FRAME_ACK) {
			c->acks++;
		} else if (f.type == FRAME_ERROR) {
			c->errors++;
			snprintf(c->error, sizeof(c->error), "%.*s", (int)f.len,
				 (const char *)f.payload);
		}
	}
	assert_int_equal(rv, 0);
}

static void rawc_on_connect(uv_connect_t *req, int status)
{
	struct rawc *c = req->data;

	assert_int_equal(status, 0);
	c->connected = 1;
	assert_int_equal(
	    uv_read_start((uv_stream_t *)&c->tcp, rawc_alloc, rawc_read), 0);
}

static void rawc_on_closed(uv_handle_t *h)
{
	struct rawc *c = h->data;

	c->closed = 1;
}

void rawc_connect(uv_loop_t *loop, struct rawc *c, int port,
		  const char *from)
{
	struct sockaddr_in addr;

	memset(c, 0, sizeof(*c));
	c->tcp.data = c;
	c->creq.data = c;
	assert_int_equal(frame_decoder_init(&c->dec, 0), 0);
	assert_int_equal(uv_tcp_init(loop, &c->tcp), 0);
	if (from != NULL) {
		uv_ip4_addr(from, 0, &addr);
		assert_int_equal(
		    uv_tcp_bind(&c->tcp, (struct sockaddr *)&addr, 0), 0);
	}
	uv_ip4_addr("127.0.0.1", port, &addr);
	assert_int_equal(uv_tcp_connect(&c->creq, &c->tcp,
					(struct sockaddr *)&addr,
					rawc_on_connect),
			 0);
	assert_true(rawc_wait(loop, &c->connected, 5000));
}

void rawc_hello(struct rawc *c, uint64_t agent_id, int offer_dict)
{
	Poolpair__Repl__Hello hello = POOLPAIR__REPL__HELLO__INIT;
	Poolpair__Repl__StreamPosition pos =
	    POOLPAIR__REPL__STREAM_POSITION__INIT;
	Poolpair__Repl__StreamPosition *ptrs[1] = {&pos};

	pos.user_set = "pool-east";
	pos.lane = LANE_DATA;
	pos.epoch = 1;
	hello.from_pool = "pool-east";
	hello.to_pool = "pool-west";
	hello.agent_id = agent_id;
	hello.positions = ptrs;
	hello.n_positions = 1;
	hello.lz4_dict = offer_dict;
	assert_int_equal(stream_write_message((uv_stream_t *)&c->tcp,
					      FRAME_HELLO, &hello.base),
			 0);
}

void rawc_open(uv_loop_t *loop, struct rawc *c, int port, uint64_t agent_id,
	       int offer_dict)
{
	rawc_connect(loop, c, port, NULL);
	rawc_hello(c, agent_id, offer_dict);
	assert_true(rawc_wait(loop, &c->hellos, 5000));
}

void rawc_close(uv_loop_t *loop, struct rawc *c)
{
	if (!uv_is_closing((uv_handle_t *)&c->tcp))
		uv_close((uv_handle_t *)&c->tcp, rawc_on_closed);
	assert_true(rawc_wait(loop, &c->closed, 5000));
	frame_decoder_close(&c->dec);
}
