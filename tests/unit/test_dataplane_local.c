/* Tests of agent/dataplane_local.c and agent/dataplane_standby.c: the hot
 * standbys of a pool, over real stores on temp dirs and real streams on
 * loopback, in one loop. Pool east has two agents, east1 (id 1) and east3
 * (id 3); pool west (agent 2) is its pair. The applied state is set by
 * hand.
 * - R1/R2: the writer streams its writes to its standby, whose copy
 *   holds them and reports its position; the writer sees the standby's
 *   acknowledgements;
 * - the switch of writer: the new writer streams to the former one;
 * - R7: a former writer's never-shipped records are archived when it
 *   comes back as a standby, and its copy is seeded anew from the new
 *   writer (equal digests); later epoch raises (a failover and failback,
 *   no local takeover) archive nothing when a standby restarts;
 * - R3: with a synchronous standby, the pair's sender is limited to
 *   what that standby acknowledged;
 * - F1: records written before a local takeover, shipped to the pair by
 *   the new writer, are kept there (the takeover raised the epoch, not
 *   the floor);
 * - F2: only the writer streams: the pair refuses the stream of a former
 *   writer that still believes it writes (a view of before the takeover)
 *   and takes the new writer's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/dataplane.h"
#include "agent/members.h"

struct fake_lease {
	bool held;
	bool current;
};

static bool lease_held(void *impl)
{
	return ((struct fake_lease *)impl)->held;
}

static bool lease_current(void *impl)
{
	return ((struct fake_lease *)impl)->current;
}

static const struct dataplane_lease_ops lease_ops = {lease_held,
						     lease_current};

#define N_AGENTS 3 /* index 0: east1 (id 1), 1: west (id 2), 2: east3 (3) */

struct fx {
	uv_loop_t loop;
	struct fsm fsm;
	struct fake_lease lease;
	struct dataplane dp[N_AGENTS];
	char dir[N_AGENTS][64];
	uint16_t port[N_AGENTS];
	/* the writer's stream reports a standby trims with (dp peers) */
	struct members_stream_report streams[4];
	unsigned n_streams;
	int closed; /* data planes closed by dp_restart() */
};

static unsigned fake_streams(void *impl, uint64_t id, uint64_t max_age_ms,
			     struct members_stream_report *out, unsigned max)
{
	struct fx *f = impl;
	unsigned n = f->n_streams < max ? f->n_streams : max;

	(void)id;
	(void)max_age_ms;
	memcpy(out, f->streams, n * sizeof *out);
	return n;
}

static const struct dataplane_peers_ops peers_ops = {fake_streams};

static uint16_t free_port(uv_loop_t *loop)
{
	uv_tcp_t t;
	struct sockaddr_in a;
	struct sockaddr_storage got;
	int len = sizeof got;

	uv_ip4_addr("127.0.0.1", 0, &a);
	assert_int_equal(uv_tcp_init(loop, &t), 0);
	assert_int_equal(uv_tcp_bind(&t, (struct sockaddr *)&a, 0), 0);
	assert_int_equal(
	    uv_tcp_getsockname(&t, (struct sockaddr *)&got, &len), 0);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	return ntohs(((struct sockaddr_in *)&got)->sin_port);
}

static void add_member(struct fx *f, uint64_t id, const char *name,
		       const char *pool, uint16_t port)
{
	struct fsm_member *m = &f->fsm.members[f->fsm.n_members++];

	memset(m, 0, sizeof *m);
	m->id = id;
	snprintf(m->name, sizeof m->name, "%s", name);
	snprintf(m->site, sizeof m->site, "%s", pool);
	snprintf(m->pool, sizeof m->pool, "%s", pool);
	snprintf(m->data_address, sizeof m->data_address, "127.0.0.1:%u",
		 (unsigned)port);
	snprintf(m->api_address, sizeof m->api_address, "127.0.0.1:%d",
		 9000 + (int)id);
}

static void add_pool(struct fx *f, const char *name, const char *pair,
		     uint64_t writer)
{
	struct fsm_pool *p = &f->fsm.pools[f->fsm.n_pools++];

	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", name);
	snprintf(p->site, sizeof p->site, "%s", name);
	snprintf(p->pair, sizeof p->pair, "%s", pair);
	snprintf(p->owner, sizeof p->owner, "%s", name);
	p->epoch = 1;
	p->floor_epoch = 1; /* as the state machine adds a pool */
	p->state = FSM_STATE_NORMAL;
	p->writer = writer;
	p->writer_token = 1;
}

static struct fsm_pool *pool(struct fx *f, const char *name)
{
	for (unsigned i = 0; i < f->fsm.n_pools; i++)
		if (strcmp(f->fsm.pools[i].name, name) == 0)
			return &f->fsm.pools[i];
	fail_msg("no pool %s", name);
	return NULL;
}

static struct fsm_member *member(struct fx *f, uint64_t id)
{
	for (unsigned i = 0; i < f->fsm.n_members; i++)
		if (f->fsm.members[i].id == id)
			return &f->fsm.members[i];
	fail_msg("no member %llu", (unsigned long long)id);
	return NULL;
}

static void applied(struct fx *f)
{
	for (int i = 0; i < N_AGENTS; i++)
		dataplane_on_applied(&f->dp[i]);
}

static const uint64_t ids[N_AGENTS] = {1, 2, 3};
static const char *const pools[N_AGENTS] = {"east", "west", "east"};

/* Start the data plane of agent i on its directory and port. */
static void dp_start(struct fx *f, int i)
{
	struct dataplane_deps d;

	memset(&d, 0, sizeof d);
	d.loop = &f->loop;
	d.fsm = &f->fsm;
	d.clock = clock_system();
	d.lease = (struct dataplane_lease){&lease_ops, &f->lease};
	d.peers = (struct dataplane_peers){&peers_ops, f};
	d.agent_id = ids[i];
	d.pool = pools[i];
	d.data_dir = f->dir[i];
	d.data_host = "127.0.0.1";
	d.data_port = f->port[i];
	assert_int_equal(dataplane_init(&f->dp[i], &d), 0);
	assert_int_equal(dataplane_start(&f->dp[i]), 0);
}

/* Three data planes (east1, west, east3), their stores open, the state:
 * east (writer east1, standby east3) paired with west, unless paired is
 * false (then west has no agent, and east no pair). */
static struct fx *fx_new(bool paired)
{
	struct fx *f = calloc(1, sizeof *f);

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	fsm_init(&f->fsm);
	f->lease.held = true;
	f->lease.current = true;
	for (int i = 0; i < N_AGENTS; i++) {
		snprintf(f->dir[i], sizeof f->dir[i],
			 "/tmp/test_dplocal.XXXXXX");
		assert_non_null(mkdtemp(f->dir[i]));
		f->port[i] = free_port(&f->loop);
		dp_start(f, i);
	}
	for (int k = 0; k < 10000; k++) {
		bool all = true;

		for (int i = 0; i < N_AGENTS; i++)
			all = all && dataplane_ready(&f->dp[i]);
		if (all)
			break;
		uv_run(&f->loop, UV_RUN_ONCE);
	}
	add_pool(f, "east", paired ? "west" : "", 1);
	if (paired)
		add_pool(f, "west", "east", 2);
	add_member(f, 1, "east1", "east", f->port[0]);
	add_member(f, 2, "west1", "west", f->port[1]);
	add_member(f, 3, "east3", "east", f->port[2]);
	snprintf(f->fsm.cms_active, sizeof f->fsm.cms_active, "west");
	applied(f);
	return f;
}

static void fx_closed(struct dataplane *dp)
{
	(void)dp;
}

static void fx_free(struct fx *f)
{
	char p[160];
	static const char *const files[] = {"store.db", "store.db-wal",
					    "store.db-shm"};

	for (int i = 0; i < N_AGENTS; i++)
		dataplane_close(&f->dp[i], fx_closed);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	for (int i = 0; i < N_AGENTS; i++)
		assert_int_equal(f->dp[i].state, DP_CLOSED);
	assert_int_equal(uv_loop_close(&f->loop), 0); /* no handle left */
	for (int i = 0; i < N_AGENTS; i++) {
		for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
			snprintf(p, sizeof p, "%s/%s", f->dir[i], files[k]);
			unlink(p);
		}
		rmdir(f->dir[i]);
	}
	free(f);
}

/* Run the loop until cond(f, arg) holds; fails when it has not after a
 * minute (the streams' timers keep the loop turning). */
static void run_until(struct fx *f, bool (*cond)(struct fx *, void *),
		      void *arg, const char *what)
{
	uint64_t start;

	uv_update_time(&f->loop);
	start = uv_now(&f->loop);
	while (uv_now(&f->loop) - start < 60000) {
		if (cond(f, arg))
			return;
		uv_run(&f->loop, UV_RUN_ONCE);
	}
	fail_msg("never: %s", what);
}

/* A data plane closed by dp_restart(): counted in its fixture's closed
 * (the fixture is its peers' impl). */
static void dp_restart_closed(struct dataplane *dp)
{
	((struct fx *)dp->deps.peers.impl)->closed++;
}

static bool dp_closed(struct fx *f, void *arg)
{
	return f->closed == *(int *)arg;
}

static bool dp_open(struct fx *f, void *arg)
{
	return dataplane_ready(&f->dp[*(int *)arg]);
}

/* Agent i restarts: its data plane closes and starts again on the same
 * store, from the applied state. */
static void dp_restart(struct fx *f, int i)
{
	int want = f->closed + 1;

	dataplane_close(&f->dp[i], dp_restart_closed);
	run_until(f, dp_closed, &want, "the data plane closed");
	dp_start(f, i);
	run_until(f, dp_open, &i, "the data plane open again");
	dataplane_on_applied(&f->dp[i]);
}

/* ---- writes and reads on a store ---- */

struct wr {
	struct dataplane *dp;
	int done;
	int status;
	uint64_t seq;
};

static void written(void *arg, int status, const struct store_write_result *r)
{
	struct wr *w = arg;

	w->status = status;
	w->seq = r->seq;
	w->done = 1;
	dataplane_write_done(w->dp, "east", status, r);
}

static bool wr_done(struct fx *f, void *arg)
{
	(void)f;
	return ((struct wr *)arg)->done != 0;
}

/* Write profile of sip at dp (epoch of east): its seq. */
static uint64_t put(struct fx *f, int i, const char *sip, const char *value)
{
	struct wr w = {.dp = &f->dp[i]};
	struct store_write sw;

	memset(&sw, 0, sizeof sw);
	sw.user_set = "east";
	sw.epoch = pool(f, "east")->epoch;
	sw.hlc = dataplane_hlc(&f->dp[i]);
	sw.op = POOLPAIR__REPL__OP__OP_PUT;
	sw.kind = POOLPAIR__REPL__KIND__KIND_PROFILE;
	sw.key = sip;
	sw.value = value;
	sw.value_len = strlen(value);
	assert_int_equal(store_write(&f->dp[i].store, &sw, written, &w), 0);
	run_until(f, wr_done, &w, "write");
	assert_int_equal(w.status, 0);
	return w.seq;
}

struct rd {
	int done;
	int status;
	char value[64];
};

static void got(void *arg, int status, const struct store_item *it)
{
	struct rd *r = arg;

	r->status = status;
	if (status == 0)
		snprintf(r->value, sizeof r->value, "%.*s",
			 (int)it->value_len, (const char *)it->value);
	r->done = 1;
}

static bool rd_done(struct fx *f, void *arg)
{
	(void)f;
	return ((struct rd *)arg)->done != 0;
}

/* The value of sip's profile in agent i's copy of east, "" when none. */
static void get(struct fx *f, int i, const char *sip, char *out, size_t len)
{
	struct rd r = {0};

	assert_int_equal(store_get_user_data(&f->dp[i].store, "east", sip,
					     POOLPAIR__REPL__KIND__KIND_PROFILE,
					     got, &r),
			 0);
	run_until(f, rd_done, &r, "read");
	snprintf(out, len, "%s", r.status == 0 ? r.value : "");
}

struct has {
	int i;
	const char *sip;
	const char *value;
};

static bool has_value(struct fx *f, void *arg)
{
	struct has *h = arg;
	char v[64];

	get(f, h->i, h->sip, v, sizeof v);
	return strcmp(v, h->value) == 0;
}

struct dg {
	int done;
	uint64_t items;
	struct store_digest_bucket b[STORE_DIGEST_BUCKETS];
};

static void digested(void *arg, int status, const struct store_digest *d)
{
	struct dg *g = arg;

	assert_int_equal(status, 0);
	g->items = d->items;
	memcpy(g->b, d->buckets, sizeof g->b);
	g->done = 1;
}

static bool dg_done(struct fx *f, void *arg)
{
	(void)f;
	return ((struct dg *)arg)->done != 0;
}

static void digest(struct fx *f, int i, struct dg *g)
{
	memset(g, 0, sizeof *g);
	assert_int_equal(store_digest(&f->dp[i].store, "east", digested, g),
			 0);
	run_until(f, dg_done, g, "digest");
}

/* The standby id's acknowledgement of east's data lane at the writer i
 * reached seq. */
struct acked {
	int i;
	uint64_t id;
	uint64_t seq;
};

static bool standby_acked(struct fx *f, void *arg)
{
	struct acked *a = arg;
	struct dataplane_standby sb;

	if (dataplane_standby_get(&f->dp[a->i], a->id, &sb) != 0)
		return false;
	for (unsigned k = 0; k < sb.n_sets; k++)
		if (strcmp(sb.sets[k].user_set, "east") == 0)
			return sb.sets[k].acked[0] >= a->seq &&
			       sb.state == DATAPLANE_STANDBY_STREAMING;
	return false;
}

static bool is_copy(struct fx *f, void *arg)
{
	return dataplane_standby_copy(&f->dp[*(int *)arg]);
}

/* The standby (agent 2) reports its copy of east's data lane at a->seq
 * or past. */
static bool copy_at(struct fx *f, void *arg)
{
	struct acked *a = arg;
	struct members_copy_report cr[8];
	unsigned n = dataplane_copy_reports(&f->dp[2], cr, 8);

	for (unsigned i = 0; i < n; i++)
		if (strcmp(cr[i].user_set, "east") == 0 && cr[i].lane == 0)
			return cr[i].head_seq >= a->seq;
	return false;
}

struct pos {
	int done;
	uint64_t head;
	uint64_t acked;
	uint64_t lag;
};

static void positions(void *arg, int status, const struct store_positions *ps)
{
	struct pos *p = arg;

	assert_int_equal(status, 0);
	for (size_t i = 0; i < ps->n; i++)
		if (strcmp(ps->v[i].user_set, "east") == 0 &&
		    ps->v[i].lane == 0) {
			p->head = ps->v[i].head_seq;
			p->acked = ps->v[i].acked_seq;
			p->lag = ps->v[i].lag_records;
		}
	p->done = 1;
}

static bool pos_done(struct fx *f, void *arg)
{
	(void)f;
	return ((struct pos *)arg)->done != 0;
}

struct dv {
	int done;
	size_t n;
};

static void divergences(void *arg, int status,
			const struct store_divergence_list *l)
{
	struct dv *d = arg;

	assert_int_equal(status, 0);
	d->n = l->n;
	d->done = 1;
}

static bool dv_done(struct fx *f, void *arg)
{
	(void)f;
	return ((struct dv *)arg)->done != 0;
}

/* How many records agent i's divergence archive holds. */
static size_t archived(struct fx *f, int i)
{
	struct dv d = {0};

	assert_int_equal(
	    store_divergence_list(&f->dp[i].store, 0, 0, divergences, &d), 0);
	run_until(f, dv_done, &d, "the divergence archive");
	return d.n;
}

/* The head of east's data lane in agent i's outbox (its positions). */
static uint64_t outbox_head(struct fx *f, int i)
{
	struct pos p = {0};

	assert_int_equal(store_stream_positions(&f->dp[i].store, positions,
						&p),
			 0);
	run_until(f, pos_done, &p, "positions");
	return p.head;
}

/* ---- the tests ---- */

/* R1, R2: a write at the writer reaches the standby's copy; the writer
 * sees the standby's acknowledgement; the standby reports its copy's
 * position; only the standby holds a standby copy. */
static void test_writer_streams_to_its_standby(void **state)
{
	struct fx *f = fx_new(false);
	struct has h = {2, "sip:a@x", "{\"n\":1}"};
	struct members_copy_report cr[8];
	struct members_standby_report br[4];
	struct dataplane_standby sb;
	int standby = 2;
	struct acked a;
	unsigned n;
	uint64_t seq;

	(void)state;
	run_until(f, is_copy, &standby, "the standby's copy");
	assert_false(dataplane_standby_copy(&f->dp[0]));
	assert_int_equal(dataplane_standby_count(&f->dp[0]), 1);
	assert_int_equal(dataplane_standby_count(&f->dp[2]), 0);
	seq = put(f, 0, "sip:a@x", "{\"n\":1}");
	run_until(f, has_value, &h, "the write at the standby");
	a = (struct acked){0, 3, seq};
	run_until(f, standby_acked, &a, "the standby's ack");
	assert_int_equal(dataplane_standby_get(&f->dp[0], 3, &sb), 0);
	assert_string_equal(sb.name, "east3");
	assert_int_equal(sb.lag_records, 0);
	assert_int_equal(dataplane_standby_get(&f->dp[0], 2, &sb), -ENOENT);
	n = dataplane_standby_reports(&f->dp[0], br, 4);
	assert_int_equal(n, 1);
	assert_int_equal(br[0].id, 3);
	assert_string_equal(br[0].state, "streaming");
	assert_int_equal(br[0].acked[0], seq);
	/* the standby's position */
	a.seq = seq;
	run_until(f, copy_at, &a, "the standby's position");
	n = dataplane_copy_reports(&f->dp[2], cr, 8);
	assert_true(n >= 1);
	assert_string_equal(cr[0].user_set, "east");
	assert_int_equal(cr[0].lane, 0);
	assert_int_equal(cr[0].head_seq, seq);
	assert_int_equal(dataplane_copy_reports(&f->dp[0], cr, 8), 0);
	fx_free(f);
}

struct lagging {
	int i;
	uint64_t id;
};

static bool standby_lags(struct fx *f, void *arg)
{
	struct lagging *l = arg;
	struct dataplane_standby sb;

	return dataplane_standby_get(&f->dp[l->i], l->id, &sb) == 0 &&
	       sb.lag_records > 0;
}

/* The switch of writer: the new writer stops its receiver and streams
 * to the former writer, now a standby. */
static void test_switch_of_writer(void **state)
{
	struct fx *f = fx_new(false);
	struct has h = {2, "sip:a@x", "1"};
	struct fsm_pool *east;
	int standby = 2, former = 0;
	uint64_t seq;

	(void)state;
	run_until(f, is_copy, &standby, "the standby's copy");
	seq = put(f, 0, "sip:a@x", "1");
	run_until(f, has_value, &h, "the write at the standby");
	east = pool(f, "east");
	east->writer = 3;
	east->writer_token = 2;
	east->epoch = 2;
	east->writer_seq[0] = seq;
	east->writer_epoch = 2;
	applied(f);
	run_until(f, is_copy, &former, "the former writer's copy");
	assert_false(dataplane_standby_copy(&f->dp[2]));
	put(f, 2, "sip:b@x", "2");
	h = (struct has){0, "sip:b@x", "2"};
	run_until(f, has_value, &h, "the new writer's write at the former");
	fx_free(f);
}

static bool trimmed_to(struct fx *f, void *arg)
{
	struct pos p = {0};

	assert_int_equal(store_stream_positions(&f->dp[2].store, positions, &p),
			 0);
	run_until(f, pos_done, &p, "positions");
	return p.acked == *(uint64_t *)arg;
}

/* R7: what the former writer wrote and never shipped (its standby was
 * unreachable) is archived when it comes back as a standby, and its copy
 * is seeded anew from the new writer: both copies are then equal. (The
 * record the pair had acknowledged before the takeover comes with the
 * seed: east3 trimmed it from its outbox.) A failover and failback later
 * raise the epoch; the former writer restarts: what the new writer wrote
 * since the takeover (its epoch, past the takeover's position) stays. */
static void test_former_writer_diverts_and_reseeds(void **state)
{
	struct fx *f = fx_new(false);
	struct has h = {2, "sip:a@x", "1"};
	struct fsm_pool *east;
	struct dg d0, d2;
	struct lagging l = {0, 3};
	int standby = 2, former = 0;
	char addr[FSM_ADDR_LEN];
	uint64_t seq, head;
	char v[64];

	(void)state;
	run_until(f, is_copy, &standby, "the standby's copy");
	seq = put(f, 0, "sip:a@x", "1");
	run_until(f, has_value, &h, "the write at the standby");
	/* the pair acknowledged it (the writer's report): east3 trims its
	 * outbox, so the full reseed of east1 below is a seed */
	f->n_streams = 1;
	memset(&f->streams[0], 0, sizeof f->streams[0]);
	snprintf(f->streams[0].user_set, FSM_NAME_LEN, "east");
	snprintf(f->streams[0].category, sizeof f->streams[0].category,
		 "user_data");
	f->streams[0].acked_seq = seq;
	run_until(f, trimmed_to, &seq, "the trim");
	/* east3 unreachable: east1's next write never reaches it */
	snprintf(addr, sizeof addr, "%s", member(f, 3)->data_address);
	snprintf(member(f, 3)->data_address, FSM_ADDR_LEN, "127.0.0.1:1");
	applied(f);
	put(f, 0, "sip:c@x", "lost");
	run_until(f, standby_lags, &l, "a write east3 lacks");
	/* east3 takes over at its position; east1 comes back a standby */
	snprintf(member(f, 3)->data_address, FSM_ADDR_LEN, "%s", addr);
	east = pool(f, "east");
	east->writer = 3;
	east->writer_token = 2;
	east->epoch = 2;
	east->writer_seq[0] = seq;
	east->writer_epoch = 2;
	applied(f);
	put(f, 2, "sip:b@x", "2");
	h = (struct has){0, "sip:b@x", "2"};
	run_until(f, has_value, &h, "the new writer's write at the former");
	/* the never-shipped write is gone from the copy (archived) */
	get(f, 0, "sip:c@x", v, sizeof v);
	assert_string_equal(v, "");
	get(f, 0, "sip:a@x", v, sizeof v);
	assert_string_equal(v, "1");
	digest(f, 0, &d0);
	digest(f, 2, &d2);
	assert_int_equal(d0.items, d2.items);
	assert_memory_equal(d0.b, d2.b, sizeof d0.b);
	assert_int_equal(archived(f, 0), 1);
	/* a write of the new writer after the seed: in east1's outbox */
	head = put(f, 2, "sip:d@x", "4");
	assert_true(head > seq);
	h = (struct has){0, "sip:d@x", "4"};
	run_until(f, has_value, &h, "the next write at the former");
	assert_int_equal(outbox_head(f, 0), head);
	/* failover to the pair (epoch 3) and failback (epoch 4) */
	east->epoch = 4;
	applied(f);
	dp_restart(f, 0);
	run_until(f, is_copy, &former, "the restarted former writer's copy");
	assert_int_equal(archived(f, 0), 1);
	assert_int_equal(outbox_head(f, 0), head);
	get(f, 0, "sip:d@x", v, sizeof v);
	assert_string_equal(v, "4");
	fx_free(f);
}

/* R7 after a failover and failback (no local takeover): the epoch of
 * east went from 1 to 3, the writer stayed. The standby restarts: the
 * records of its outbox written under epoch 1 were shipped (they came
 * from its writer); none is archived, its outbox and copy stay, and its
 * writer's next write follows them. */
static void test_standby_keeps_its_copy_across_epochs(void **state)
{
	struct fx *f = fx_new(false);
	struct has h = {2, "sip:b@x", "2"};
	struct acked a;
	int standby = 2;
	uint64_t seq;
	char v[64];

	(void)state;
	run_until(f, is_copy, &standby, "the standby's copy");
	put(f, 0, "sip:a@x", "1");
	seq = put(f, 0, "sip:b@x", "2");
	run_until(f, has_value, &h, "the writes at the standby");
	a = (struct acked){0, 3, seq};
	run_until(f, copy_at, &a, "the standby's position");
	assert_int_equal(outbox_head(f, 2), seq);
	/* failover to the pair (epoch 2) and failback (epoch 3) */
	pool(f, "east")->epoch = 3;
	applied(f);
	dp_restart(f, 2);
	run_until(f, is_copy, &standby, "the restarted standby's copy");
	assert_int_equal(archived(f, 2), 0);
	assert_int_equal(outbox_head(f, 2), seq);
	get(f, 2, "sip:a@x", v, sizeof v);
	assert_string_equal(v, "1");
	/* the stream goes on from there */
	a.seq = put(f, 0, "sip:c@x", "3");
	assert_int_equal(a.seq, seq + 1);
	h = (struct has){2, "sip:c@x", "3"};
	run_until(f, has_value, &h, "the next write at the standby");
	run_until(f, copy_at, &a, "the standby's next position");
	assert_int_equal(archived(f, 2), 0);
	fx_free(f);
}

/* R3: with a synchronous standby, the pair's sender ships only what it
 * acknowledged; without one, nothing limits it. */
static void test_pair_capped_by_the_sync_standby(void **state)
{
	struct fx *f = fx_new(true);
	struct has h = {2, "sip:a@x", "1"};
	struct sender_stats st;
	struct acked a;
	int standby = 2;
	uint64_t seq;

	(void)state;
	run_until(f, is_copy, &standby, "the standby's copy");
	assert_non_null(f->dp[0].sender);
	assert_int_equal(sender_stats_get(f->dp[0].sender, "east", 0, &st), 0);
	assert_true(st.limit_seq == UINT64_MAX);
	pool(f, "east")->sync_standby = 3;
	applied(f);
	assert_int_equal(sender_stats_get(f->dp[0].sender, "east", 0, &st), 0);
	assert_int_equal(st.limit_seq, 0); /* nothing acknowledged yet */
	seq = put(f, 0, "sip:a@x", "1");
	run_until(f, has_value, &h, "the write at the standby");
	a = (struct acked){0, 3, seq};
	run_until(f, standby_acked, &a, "the standby's ack");
	assert_int_equal(sender_stats_get(f->dp[0].sender, "east", 0, &st), 0);
	assert_int_equal(st.limit_seq, seq);
	/* the pair gets it then */
	h = (struct has){1, "sip:a@x", "1"};
	run_until(f, has_value, &h, "the write at the pair");
	pool(f, "east")->sync_standby = 0;
	applied(f);
	assert_int_equal(sender_stats_get(f->dp[0].sender, "east", 0, &st), 0);
	assert_true(st.limit_seq == UINT64_MAX);
	fx_free(f);
}

/* What a waiting write's release said: 0 not yet, 1 replicated, 2 local,
 * 3 failed. */
static void rel(void *arg, enum dataplane_release how)
{
	*(int *)arg = how == DP_RELEASE_REPLICATED ? 1
		      : how == DP_RELEASE_LOCAL	   ? 2
						   : 3;
}

/* Sync mode with the pair: a write waiting for the pair's acknowledgement
 * is released LOCAL when the pair's mode turns async (a committed
 * decision: a success), and FAILED when this agent stops being the
 * writer of its pool (another agent took over: its copy may lack it). */
static void test_pair_waits_fail_when_no_longer_writer(void **state)
{
	struct fx *f = fx_new(true);
	int a = 0, b = 0;

	(void)state;
	pool(f, "east")->repl_mode = FSM_REPL_SYNC;
	pool(f, "west")->repl_mode = FSM_REPL_SYNC;
	applied(f);
	assert_int_equal(f->dp[0].sync, SYNC_ON);
	assert_non_null(f->dp[0].sender);
	/* a sequence the pair cannot have acknowledged: it waits */
	assert_int_equal(
	    dataplane_after_write(&f->dp[0], "east", 0, 1000000, rel, &a), 1);
	pool(f, "east")->repl_mode = FSM_REPL_ASYNC;
	pool(f, "west")->repl_mode = FSM_REPL_ASYNC;
	applied(f);
	assert_int_equal(a, 2);
	pool(f, "east")->repl_mode = FSM_REPL_SYNC;
	pool(f, "west")->repl_mode = FSM_REPL_SYNC;
	applied(f);
	assert_int_equal(
	    dataplane_after_write(&f->dp[0], "east", 0, 1000000, rel, &b), 1);
	/* east3 takes over */
	pool(f, "east")->writer = 3;
	pool(f, "east")->writer_token++;
	applied(f);
	assert_null(f->dp[0].sender);
	assert_int_equal(b, 3);
	fx_free(f);
}

/* Run the loop for ms (the streams' and the sync mode's timers). */
static void run_for(struct fx *f, uint64_t ms)
{
	uint64_t start;

	uv_update_time(&f->loop);
	start = uv_now(&f->loop);
	while (uv_now(&f->loop) - start < ms)
		uv_run(&f->loop, UV_RUN_ONCE);
}

/* A writer without its lease (cut off, or paused) may have been replaced:
 * its wait for the pair does not fall back to a success past the sync
 * timeout; once it applies another writer, the wait fails. */
static void test_pair_fallback_held_without_lease(void **state)
{
	struct fx *f = fx_new(true);
	int a = 0;

	(void)state;
	pool(f, "east")->repl_mode = FSM_REPL_SYNC;
	pool(f, "west")->repl_mode = FSM_REPL_SYNC;
	pool(f, "east")->sync_timeout_ms = 200;
	pool(f, "west")->sync_timeout_ms = 200;
	applied(f);
	assert_int_equal(f->dp[0].sync, SYNC_ON);
	assert_int_equal(f->dp[0].sync_timeout_ms, 200);
	assert_int_equal(
	    dataplane_after_write(&f->dp[0], "east", 0, 1000000, rel, &a), 1);
	f->lease.held = false;
	run_for(f, 600); /* three times the sync timeout */
	assert_int_equal(a, 0);
	assert_int_equal(f->dp[0].sync, SYNC_ON);
	pool(f, "east")->writer = 3;
	pool(f, "east")->writer_token++;
	applied(f);
	assert_int_equal(a, 3);
	f->lease.held = true;
	fx_free(f);
}

/* R2: the standby trims its outbox with the pair's acknowledgements its
 * writer reports, never past its own head. */
static void test_trim(void **state)
{
	struct fx *f = fx_new(false);
	struct has h = {2, "sip:b@x", "2"};
	int standby = 2;
	uint64_t seq, want;

	(void)state;
	run_until(f, is_copy, &standby, "the standby's copy");
	put(f, 0, "sip:a@x", "1");
	seq = put(f, 0, "sip:b@x", "2");
	run_until(f, has_value, &h, "the writes at the standby");
	/* the writer reports the pair acknowledged the first */
	f->n_streams = 1;
	memset(&f->streams[0], 0, sizeof f->streams[0]);
	snprintf(f->streams[0].user_set, FSM_NAME_LEN, "east");
	snprintf(f->streams[0].category, sizeof f->streams[0].category,
		 "user_data");
	f->streams[0].acked_seq = seq - 1;
	want = seq - 1;
	run_until(f, trimmed_to, &want, "the trim");
	/* an acknowledgement past the copy's head trims up to the head */
	f->streams[0].acked_seq = seq + 5;
	want = seq;
	run_until(f, trimmed_to, &want, "the trim up to the head");
	fx_free(f);
}

/* F1: a record written before a local takeover (the pair unreachable,
 * the synchronous standby holding it) is shipped to the pair by the new
 * writer after the takeover and kept there: its epoch is below the new
 * epoch but not below the floor (the owner did not change). Both copies
 * of east end equal. */
static void test_pair_keeps_records_from_before_a_takeover(void **state)
{
	struct fx *f = fx_new(true);
	struct has h = {2, "sip:a@x", "1"};
	struct fsm_pool *east;
	struct dg d1, d2;
	int standby = 2;
	char addr[FSM_ADDR_LEN];
	uint64_t seq;
	char v[64];
	struct acked a;

	(void)state;
	run_until(f, is_copy, &standby, "the standby's copy");
	/* the pair unreachable: east1's write reaches only east3 */
	snprintf(addr, sizeof addr, "%s", member(f, 2)->data_address);
	snprintf(member(f, 2)->data_address, FSM_ADDR_LEN, "127.0.0.1:1");
	applied(f);
	seq = put(f, 0, "sip:a@x", "1");
	run_until(f, has_value, &h, "the write at the standby");
	a = (struct acked){0, 3, seq};
	run_until(f, standby_acked, &a, "the standby's ack");
	/* local takeover by east3 at its position (the epoch raised, the
	 * floor kept); the pair reachable again */
	snprintf(member(f, 2)->data_address, FSM_ADDR_LEN, "%s", addr);
	east = pool(f, "east");
	east->writer = 3;
	east->writer_token = 2;
	east->epoch = 2;
	east->writer_seq[0] = seq;
	applied(f);
	put(f, 2, "sip:b@x", "2");
	h = (struct has){1, "sip:b@x", "2"};
	run_until(f, has_value, &h, "the new writer's write at the pair");
	/* the write of before the takeover, shipped before b, is kept */
	get(f, 1, "sip:a@x", v, sizeof v);
	assert_string_equal(v, "1");
	digest(f, 1, &d1);
	digest(f, 2, &d2);
	assert_int_equal(d1.items, 2);
	assert_int_equal(d1.items, d2.items);
	assert_memory_equal(d1.b, d2.b, sizeof d1.b);
	fx_free(f);
}

/* The refusals of HELLOs by agent i's pair receiver
 * (dataplane_receiver_status errors "hello"), and its last error into
 * last (may be NULL). */
static int64_t hello_refusals(struct fx *f, int i, char *last, size_t len)
{
	json_t *st = dataplane_receiver_status(&f->dp[i]);
	json_t *n = json_object_get(json_object_get(st, "errors"), "hello");
	int64_t v = json_is_integer(n) ? json_integer_value(n) : 0;

	if (last != NULL)
		snprintf(last, len, "%s",
			 json_string_value(json_object_get(st, "last_error"))
			     ? json_string_value(
				   json_object_get(st, "last_error"))
			     : "");
	json_decref(st);
	return v;
}

struct refusals {
	int i;
	int64_t above;
};

static bool refused_more(struct fx *f, void *arg)
{
	struct refusals *r = arg;

	return hello_refusals(f, r->i, NULL, 0) > r->above;
}

/* F2: after a local takeover, the former writer east1 still believes it
 * writes (its view is of before the takeover): the pair closes its stream
 * and refuses it from then on ("not the writer of east"), so what it
 * writes then never reaches the pair; the new writer east3's stream is
 * taken. */
static void test_pair_refuses_a_former_writer(void **state)
{
	struct fx *f = fx_new(true);
	struct fsm *stale = malloc(sizeof *stale);
	struct has h = {1, "sip:a@x", "1"};
	struct fsm_pool *east;
	struct refusals r = {1, 0};
	struct acked a;
	int standby = 2;
	char last[256];
	uint64_t seq;
	char v[64];

	(void)state;
	assert_non_null(stale);
	run_until(f, is_copy, &standby, "the standby's copy");
	seq = put(f, 0, "sip:a@x", "1");
	run_until(f, has_value, &h, "the write at the pair");
	a = (struct acked){0, 3, seq};
	run_until(f, standby_acked, &a, "the standby's ack");
	/* east1 keeps its view of now: it is the writer there */
	memcpy(stale, &f->fsm, sizeof *stale);
	f->dp[0].deps.fsm = stale;
	/* everybody else applies the local takeover by east3 */
	east = pool(f, "east");
	east->writer = 3;
	east->writer_token = 2;
	east->epoch = 2;
	east->writer_seq[0] = seq;
	applied(f);
	r.above = hello_refusals(f, 1, NULL, 0);
	/* east1 writes on under its old view: refused at the pair, while
	 * the new writer's write arrives */
	put(f, 0, "sip:c@x", "former");
	run_until(f, refused_more, &r, "a refusal of the former writer");
	hello_refusals(f, 1, last, sizeof last);
	assert_non_null(strstr(last, "agent 1 is not the writer of east"));
	put(f, 2, "sip:b@x", "2");
	h = (struct has){1, "sip:b@x", "2"};
	run_until(f, has_value, &h, "the new writer's write at the pair");
	/* refused again once more, and still nothing of it */
	r.above = hello_refusals(f, 1, NULL, 0);
	run_until(f, refused_more, &r, "the former writer refused again");
	get(f, 1, "sip:c@x", v, sizeof v);
	assert_string_equal(v, "");
	get(f, 1, "sip:a@x", v, sizeof v);
	assert_string_equal(v, "1");
	f->dp[0].deps.fsm = &f->fsm;
	applied(f);
	fx_free(f);
	free(stale);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_writer_streams_to_its_standby),
	    cmocka_unit_test(test_switch_of_writer),
	    cmocka_unit_test(test_former_writer_diverts_and_reseeds),
	    cmocka_unit_test(test_standby_keeps_its_copy_across_epochs),
	    cmocka_unit_test(test_pair_capped_by_the_sync_standby),
	    cmocka_unit_test(test_trim),
	    cmocka_unit_test(test_pair_waits_fail_when_no_longer_writer),
	    cmocka_unit_test(test_pair_fallback_held_without_lease),
	    cmocka_unit_test(test_pair_keeps_records_from_before_a_takeover),
	    cmocka_unit_test(test_pair_refuses_a_former_writer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
