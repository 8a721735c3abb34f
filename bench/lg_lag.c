/* loadgen's lag meter (see loadgen.h): the poller reads GET /v1/backup
 * every --poll-ms over the shared client (one request outstanding: a poll
 * due while one is out is skipped) and takes acked_seq of the user_data
 * stream of --pool; every answered write waits in a min-heap by seq until an
 * answer shows acked_seq >= its seq, and its lag is then the time from its
 * answer to that backup answer (0 when west had acknowledged it before). A
 * backup answer that is not 200 or lacks the stream counts as a poll error;
 * a poll that fails (connection, timeout) fails the run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/loadgen.h"

/* ---- lag heap (min by seq) --------------------------------------------- */

static int heap_push(struct lg *g, struct lg_pending p)
{
	size_t i;

	if (g->heap_n == g->heap_cap) {
		size_t cap = g->heap_cap ? g->heap_cap * 2 : 4096;
		struct lg_pending *h = realloc(g->heap, cap * sizeof *h);
		if (h == NULL)
			return -ENOMEM;
		g->heap = h;
		g->heap_cap = cap;
	}
	i = g->heap_n++;
	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (g->heap[up].seq <= p.seq)
			break;
		g->heap[i] = g->heap[up];
		i = up;
	}
	g->heap[i] = p;
	return 0;
}

struct lg_pending lg_heap_pop(struct lg *g)
{
	struct lg_pending top = g->heap[0], last = g->heap[--g->heap_n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= g->heap_n)
			break;
		if (c + 1 < g->heap_n && g->heap[c + 1].seq < g->heap[c].seq)
			c++;
		if (last.seq <= g->heap[c].seq)
			break;
		g->heap[i] = g->heap[c];
		i = c;
	}
	if (g->heap_n > 0)
		g->heap[i] = last;
	return top;
}

static void lag_record(struct lg *g, const struct lg_pending *p, uint64_t t)
{
	double ms = t > p->t_answer ? (double)(t - p->t_answer) / 1e6 : 0;

	if (lg_samples_add(&g->ph.lag, ms) != 0)
		lg_fail(g, "out of memory");
	g->ph.acked_payload_bytes += p->payload;
}

static void acked_seen(struct lg *g, uint64_t acked, uint64_t t)
{
	if (!g->acked_known || acked > g->acked) {
		g->acked = acked;
		g->t_acked = t;
	}
	g->acked_known = true;
	while (g->heap_n > 0 && g->heap[0].seq <= g->acked) {
		struct lg_pending p = lg_heap_pop(g);
		lag_record(g, &p, t);
	}
}

static void poller_answer(struct lg *g, const struct hclient_response *r,
			  uint64_t t)
{
	json_error_t jerr;
	json_t *root, *arr, *v;
	size_t i;
	bool found = false;

	if (r->status != 200) {
		g->poll_errors++;
		return;
	}
	root = json_loadb(r->body, r->body_len, 0, &jerr);
	arr = root ? json_object_get(root, "backup") : NULL;
	json_array_foreach (arr, i, v) {
		const char *cat =
		    json_string_value(json_object_get(v, "category"));
		const char *us =
		    json_string_value(json_object_get(v, "user_set"));
		if (cat == NULL || us == NULL ||
		    strcmp(cat, "user_data") != 0 || strcmp(us, g->o.pool) != 0)
			continue;
		json_t *a = json_object_get(v, "acked_seq");
		json_t *lr = json_object_get(v, "lag_records");
		if (!json_is_integer(a))
			continue;
		found = true;
		if (json_is_integer(lr) &&
		    (double)json_integer_value(lr) > g->ph.max_lag_records)
			g->ph.max_lag_records = (double)json_integer_value(lr);
		acked_seen(g, (uint64_t)json_integer_value(a), t);
	}
	if (!found)
		g->poll_errors++;
	json_decref(root);
}

static void on_poll_answer(void *arg, int err, const struct hclient_response *r)
{
	struct lg_slot *c = arg;
	struct lg *g = c->lg;
	uint64_t t = lg_now_ns();

	c->busy = false;
	if (g->stopping)
		return; /* cancelled by the stop */
	if (err != 0) {
		if (err == UV_ETIMEDOUT)
			lg_fail(g, "backup poll: no answer within %u ms",
				g->o.timeout_ms);
		else
			lg_fail(g, "connection to %s: %s", g->o.api,
				hclient_strerror(err));
		return;
	}
	g->polls++;
	poller_answer(g, r, t);
}

static void on_poll(uv_timer_t *t)
{
	struct lg *g = t->data;
	struct lg_slot *c = &g->poller;
	int rv;

	if (c->busy || g->stopping)
		return;
	c->busy = true;
	c->t_sent = lg_now_ns();
	rv = hclient_request(&g->client, "GET", g->host, g->port, "/v1/backup",
			     NULL, NULL, 0, g->o.timeout_ms, on_poll_answer, c,
			     NULL);
	if (rv != 0) {
		c->busy = false;
		lg_fail(g, "backup poll: %s", hclient_strerror(rv));
	}
}

void lg_lag_start(struct lg *g)
{
	uv_timer_start(&g->poll_timer, on_poll, 0, g->o.poll_ms);
}

void lg_write_seq(struct lg *g, uint64_t seq, uint64_t t, uint32_t payload)
{
	if (g->ph.first_seq == 0 || seq < g->ph.first_seq)
		g->ph.first_seq = seq;
	if (seq > g->ph.last_seq)
		g->ph.last_seq = seq;
	struct lg_pending p = {seq, t, payload};
	if (g->acked_known && seq <= g->acked) {
		/* already acknowledged by the time it was answered */
		lag_record(g, &p, t);
	} else if (heap_push(g, p) != 0) {
		lg_fail(g, "out of memory");
	}
}
