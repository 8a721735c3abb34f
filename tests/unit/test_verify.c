/* Tests of the verify state machine (agent/verify.c, verify_repair.c,
 * verify_peer.c): an owner's verify module and its store, the pair's
 * module and store (real stores on a temporary directory), each behind an
 * HTTP server on loopback; the pair's server can answer nonsense or fail
 * instead of its module; the clock is a fake one the test moves. */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/hclient.h"
#include "agent/http.h"
#include "agent/log.h"
#include "agent/verify.h"
#include "agent/verify_internal.h"

#define US "pool-east"
#define SEC_NS 1000000000ULL
#define KIND(k) POOLPAIR__REPL__KIND__KIND_##k
#define OPC(o) POOLPAIR__REPL__OP__OP_##o
#define LANE(l) POOLPAIR__REPL__LANE__LANE_##l

enum peer_mode {
	PEER_MODULE,	     /* the pair's verify module answers */
	PEER_DIGEST_500,     /* the digest fails */
	PEER_DIGEST_NONSENSE, /* the digest is not one */
	PEER_KEYS_NONSENSE,  /* the keys are not a list of keys */
	PEER_KEYS_LATE,	     /* the clock passes the deadline at keys */
};

struct fx {
	uv_loop_t loop;
	char dir[64];
	struct store east_store, west_store;
	struct fsm *fsm;
	struct proposer proposer;
	struct clock clock;
	uint64_t clock_offset_ns; /* added to the real time */
	uint64_t clock_step_ns;	  /* added at every reading */
	uint64_t hlc;
	struct hclient calls;
	struct http_server east_api, west_api;
	struct verify east, west;
	int mode; /* enum peer_mode */
	unsigned keys_asked;
	uint64_t data_seq, content_seq; /* east's last writes */
	/* the answer to the verify asked */
	bool answered;
	int status;
	json_t *body;
	int east_closed, west_closed;
	int servers_closed;
	bool calls_closed;
	unsigned stores_closed;
};

/* ---- fakes ------------------------------------------------------------- */

static uint64_t fake_mono(void *data)
{
	struct fx *f = data;

	f->clock_offset_ns += f->clock_step_ns;
	return uv_hrtime() + f->clock_offset_ns;
}

static uint64_t fake_wall(void *data)
{
	(void)data;
	return 1700000000000ULL;
}

static uint64_t fake_leader(void *impl, const char **api)
{
	(void)impl;
	if (api != NULL)
		*api = "";
	return 1;
}

static const struct proposer_ops fake_proposer_ops = {.leader = fake_leader};

static bool fake_ready(void *impl, struct http_request *req)
{
	(void)impl;
	(void)req;
	return true;
}

static uint64_t fake_hlc(void *impl)
{
	struct fx *f = impl;

	return ++f->hlc;
}

static const struct verify_data_ops fake_data_ops = {
    .ready = fake_ready,
    .hlc = fake_hlc,
};

/* ---- the two servers --------------------------------------------------- */

static void east_handle(struct http_request *req)
{
	struct fx *f = req->data;
	char pool[FSM_NAME_LEN + 8];
	const char *s = req->path + strlen("/v1/backup/");
	const char *e = strstr(s, "/verify");
	struct route_params p = {0};

	if (strncmp(req->path, "/v1/backup/", 11) != 0 || e == NULL) {
		http_respond_error(req, 404, "not_found", "no such route");
		return;
	}
	snprintf(pool, sizeof pool, "%.*s", (int)(e - s), s);
	p.n = 1;
	p.p[0].name = "pool";
	p.p[0].name_len = 4;
	p.p[0].value = pool;
	verify_route_start(&f->east, req, &p);
}

static void west_handle(struct http_request *req)
{
	struct fx *f = req->data;

	if (strcmp(req->path, "/v1/internal/digest") == 0) {
		if (f->mode == PEER_DIGEST_500)
			http_respond_error(req, 500, "internal",
					   "the disk is on fire");
		else if (f->mode == PEER_DIGEST_NONSENSE)
			http_respond_json(req, 200,
					  "{\"user_set\":\"" US
					  "\",\"items\":3,\"buckets\":[1,2]}",
					  NULL);
		else
			verify_route_digest(&f->west, req, NULL);
	} else if (strcmp(req->path, "/v1/internal/keys") == 0) {
		f->keys_asked++;
		if (f->mode == PEER_KEYS_NONSENSE) {
			http_respond_json(req, 200, "[\"keys\", 1, 2]", NULL);
			return;
		}
		if (f->mode == PEER_KEYS_LATE)
			f->clock_offset_ns += (VERIFY_DEADLINE_MS + 1000) *
					      1000000ULL;
		verify_route_keys(&f->west, req, NULL);
	} else if (strcmp(req->path, "/v1/internal/repair") == 0) {
		verify_route_repair(&f->west, req, NULL);
	} else {
		http_respond_error(req, 404, "not_found", "no such route");
	}
}

/* ---- fixture ----------------------------------------------------------- */

static void open_store(struct fx *f, struct store *s, const char *name)
{
	char path[128], err[256] = "";
	int rv;

	snprintf(path, sizeof path, "%s/%s.db", f->dir, name);
	rv = store_open(s, &f->loop, path, NULL, err, sizeof err);
	if (rv != 0)
		fail_msg("store_open: %s (%s)", store_strerror(rv), err);
}

static void add_pool(struct fsm *m, const char *name, const char *pair)
{
	struct fsm_pool *p = &m->pools[m->n_pools++];

	snprintf(p->name, sizeof p->name, "%s", name);
	snprintf(p->owner, sizeof p->owner, "%s", name);
	snprintf(p->pair, sizeof p->pair, "%s", pair);
	p->epoch = 1;
}

static void add_member(struct fsm *m, uint64_t id, const char *pool,
		       int port)
{
	struct fsm_member *x = &m->members[m->n_members++];

	x->id = id;
	snprintf(x->name, sizeof x->name, "%s", pool + 5);
	snprintf(x->pool, sizeof x->pool, "%s", pool);
	snprintf(x->api_address, sizeof x->api_address, "127.0.0.1:%d", port);
}

static int start_server(struct fx *f, struct http_server *s,
			http_handler_fn h)
{
	struct http_server_config c = {.host = "127.0.0.1", .port = 0};

	assert_int_equal(http_server_init(s, &f->loop, &c, h, f), 0);
	return http_server_port(s);
}

static void init_module(struct fx *f, struct verify *v, struct store *s,
			const char *pool)
{
	struct verify_deps d = {
	    .loop = &f->loop,
	    .fsm = f->fsm,
	    .proposer = &f->proposer,
	    .store = s,
	    .calls = &f->calls,
	    .clock = &f->clock,
	    .pool = pool,
	    .data_ops = &fake_data_ops,
	    .data = f,
	};

	assert_int_equal(verify_init(v, &d), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	int east_port, west_port;

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	snprintf(f->dir, sizeof f->dir, "/tmp/test_verify.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	open_store(f, &f->east_store, "east");
	open_store(f, &f->west_store, "west");
	f->fsm = calloc(1, sizeof *f->fsm);
	assert_non_null(f->fsm);
	fsm_init(f->fsm);
	f->proposer.ops = &fake_proposer_ops;
	f->clock.mono_ns = fake_mono;
	f->clock.wall_ms = fake_wall;
	f->clock.data = f;
	f->hlc = 1000;
	assert_int_equal(hclient_init(&f->calls, &f->loop, NULL), 0);
	east_port = start_server(f, &f->east_api, east_handle);
	west_port = start_server(f, &f->west_api, west_handle);
	add_pool(f->fsm, "pool-east", "pool-west");
	add_pool(f->fsm, "pool-west", "pool-east");
	add_member(f->fsm, 1, "pool-east", east_port);
	add_member(f->fsm, 2, "pool-west", west_port);
	/* each is its pool's writer, whose API is the pool's */
	f->fsm->pools[0].writer = 1;
	f->fsm->pools[0].writer_token = 1;
	f->fsm->pools[1].writer = 2;
	f->fsm->pools[1].writer_token = 1;
	init_module(f, &f->east, &f->east_store, "pool-east");
	init_module(f, &f->west, &f->west_store, "pool-west");
	*state = f;
	return 0;
}

static void east_closed(struct verify *v)
{
	struct fx *f = (struct fx *)((char *)v - offsetof(struct fx, east));

	f->east_closed++;
}

static void west_closed(struct verify *v)
{
	struct fx *f = (struct fx *)((char *)v - offsetof(struct fx, west));

	f->west_closed++;
}

static void server_closed(struct http_server *s)
{
	struct fx *f = s->data;

	f->servers_closed++;
}

static void calls_closed(struct hclient *c)
{
	struct fx *f = c->data;

	f->calls_closed = true;
}

static void store_closed(struct store *s)
{
	struct fx *f = s->loop->data;

	f->stores_closed++;
}

static void rm_db(const char *dir, const char *name)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char p[160];

	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s.db%s", dir, name, suffix[i]);
		unlink(p);
	}
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->east.state == VERIFY_OPEN)
		verify_close(&f->east, east_closed);
	if (f->west.state == VERIFY_OPEN)
		verify_close(&f->west, west_closed);
	f->calls.data = f;
	hclient_close(&f->calls, calls_closed);
	http_server_close(&f->east_api, server_closed);
	http_server_close(&f->west_api, server_closed);
	f->loop.data = f;
	store_close(&f->east_store, store_closed);
	store_close(&f->west_store, store_closed);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(f->east_closed, 1);
	assert_int_equal(f->west_closed, 1);
	assert_int_equal(f->servers_closed, 2);
	assert_true(f->calls_closed);
	assert_int_equal(f->stores_closed, 2);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	rm_db(f->dir, "east");
	rm_db(f->dir, "west");
	rmdir(f->dir);
	json_decref(f->body);
	free(f->fsm);
	free(f);
	return 0;
}

/* ---- store helpers ----------------------------------------------------- */

struct wait {
	bool done;
	int status;
	uint64_t seq;
	struct store_digest_bucket buckets[STORE_DIGEST_BUCKETS];
	uint64_t items;
};

static void run_until(struct fx *f, const bool *done)
{
	while (!*done)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static void on_write(void *arg, int status, const struct store_write_result *r)
{
	struct wait *w = arg;

	w->done = true;
	w->status = status;
	w->seq = r->seq;
}

static void write_item(struct fx *f, struct store *s, int op, int kind,
		       const char *key, const char *value)
{
	struct wait w = {0};
	struct store_write wr = {
	    .user_set = US,
	    .epoch = 1,
	    .hlc = ++f->hlc,
	    .op = op,
	    .kind = kind,
	    .key = key,
	    .value = value,
	    .value_len = strlen(value),
	};

	if (op == OPC(CONTENT_CHUNK))
		wr.total = strlen(value);
	assert_int_equal(store_write(s, &wr, on_write, &w), 0);
	run_until(f, &w.done);
	assert_int_equal(w.status, 0);
	if (s == &f->east_store) {
		if (kind == KIND(CONTENT))
			f->content_seq = w.seq;
		else
			f->data_seq = w.seq;
	}
}

static void put(struct fx *f, struct store *s, int kind, const char *key,
		const char *value)
{
	write_item(f, s, kind == KIND(CONTENT) ? OPC(CONTENT_CHUNK) : OPC(PUT),
		   kind, key, value);
}

static void on_done(void *arg, int status, const char *errmsg)
{
	struct wait *w = arg;

	(void)errmsg;
	w->done = true;
	w->status = status;
}

/* The pair acknowledged everything east wrote: its outbox is empty. */
static void ack_east(struct fx *f)
{
	struct wait w = {0};

	if (f->data_seq > 0) {
		assert_int_equal(store_outbox_ack(&f->east_store, US,
						  LANE(DATA), f->data_seq,
						  on_done, &w),
				 0);
		run_until(f, &w.done);
		assert_int_equal(w.status, 0);
	}
	if (f->content_seq > 0) {
		w.done = false;
		assert_int_equal(store_outbox_ack(&f->east_store, US,
						  LANE(CONTENT),
						  f->content_seq, on_done, &w),
				 0);
		run_until(f, &w.done);
		assert_int_equal(w.status, 0);
	}
}

static void on_digest(void *arg, int status, const struct store_digest *d)
{
	struct wait *w = arg;

	w->done = true;
	w->status = status;
	if (status == 0) {
		memcpy(w->buckets, d->buckets, sizeof w->buckets);
		w->items = d->items;
	}
}

static struct wait digest(struct fx *f, struct store *s)
{
	struct wait w = {0};

	assert_int_equal(store_digest(s, US, on_digest, &w), 0);
	run_until(f, &w.done);
	assert_int_equal(w.status, 0);
	return w;
}

static bool same_copies(struct fx *f)
{
	struct wait a = digest(f, &f->east_store);
	struct wait b = digest(f, &f->west_store);

	return a.items == b.items &&
	       memcmp(a.buckets, b.buckets, sizeof a.buckets) == 0;
}

/* ---- asking for a verify ----------------------------------------------- */

static void on_answer(void *arg, int err, const struct hclient_response *r)
{
	struct fx *f = arg;

	assert_int_equal(err, 0);
	f->answered = true;
	f->status = r->status;
	json_decref(f->body);
	f->body = json_loadb(r->body, r->body_len, 0, NULL);
	assert_non_null(f->body);
}

static void ask(struct fx *f, const char *query)
{
	char path[128];

	snprintf(path, sizeof path, "/v1/backup/" US "/verify%s", query);
	f->answered = false;
	assert_int_equal(hclient_request(&f->calls, "POST", "127.0.0.1",
					 (uint16_t)http_server_port(&f->east_api),
					 path, NULL, NULL, 0, 60000, on_answer,
					 f, NULL),
			 0);
}

static void verify(struct fx *f, const char *query)
{
	ask(f, query);
	run_until(f, &f->answered);
}

static json_int_t num(struct fx *f, const char *name)
{
	json_t *v = json_object_get(f->body, name);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static bool flag(struct fx *f, const char *name)
{
	json_t *v = json_object_get(f->body, name);

	assert_true(json_is_boolean(v));
	return json_is_true(v);
}

static const char *str(struct fx *f, const char *name)
{
	const char *s = json_string_value(json_object_get(f->body, name));

	assert_non_null(s);
	return s;
}

/* The difference of key in the answer, or NULL. */
static json_t *diff_of(struct fx *f, const char *key)
{
	json_t *arr = json_object_get(f->body, "differences"), *d;
	size_t i;

	json_array_foreach (arr, i, d) {
		const char *k = json_string_value(json_object_get(d, "key"));

		if (k != NULL && strcmp(k, key) == 0)
			return d;
	}
	return NULL;
}

static void diff_is(struct fx *f, const char *key, const char *kind,
		    const char *problem, bool repaired)
{
	json_t *d = diff_of(f, key);

	if (d == NULL)
		fail_msg("no difference for %s", key);
	assert_string_equal(json_string_value(json_object_get(d, "kind")),
			    kind);
	assert_string_equal(json_string_value(json_object_get(d, "problem")),
			    problem);
	assert_int_equal(json_is_true(json_object_get(d, "repaired")),
			 repaired);
}

/* east: A (profile), B (contacts), a content item; west: A with another
 * value, C (profile) that east does not have. */
static void two_copies_apart(struct fx *f)
{
	put(f, &f->east_store, KIND(PROFILE), "sip:a@x.org", "{\"n\":1}");
	put(f, &f->east_store, KIND(CONTACTS), "sip:b@x.org", "[]");
	put(f, &f->east_store, KIND(CONTENT), "sip:a@x.org/c1/slides.pdf",
	    "hello");
	put(f, &f->west_store, KIND(PROFILE), "sip:a@x.org", "{\"n\":2}");
	put(f, &f->west_store, KIND(PROFILE), "sip:c@x.org", "{}");
	ack_east(f);
}

/* ---- tests ------------------------------------------------------------- */

static void equal_copies(void **state)
{
	struct fx *f = *state;

	put(f, &f->east_store, KIND(PROFILE), "sip:a@x.org", "{\"n\":1}");
	put(f, &f->east_store, KIND(CONTACTS), "sip:b@x.org", "[]");
	put(f, &f->west_store, KIND(PROFILE), "sip:a@x.org", "{\"n\":1}");
	put(f, &f->west_store, KIND(CONTACTS), "sip:b@x.org", "[]");
	ack_east(f);
	verify(f, "");
	assert_int_equal(f->status, 200);
	assert_string_equal(str(f, "user_set"), US);
	assert_string_equal(str(f, "owner"), "pool-east");
	assert_string_equal(str(f, "backup"), "pool-west");
	assert_int_equal(num(f, "items_owner"), 2);
	assert_int_equal(num(f, "items_backup"), 2);
	assert_int_equal(num(f, "buckets_differing"), 0);
	assert_int_equal(num(f, "differences_total"), 0);
	assert_int_equal(json_array_size(json_object_get(f->body,
							 "differences")),
			 0);
	assert_true(flag(f, "equal_after"));
	assert_true(flag(f, "outbox_drained"));
	assert_true(flag(f, "complete"));
	assert_int_equal(f->keys_asked, 0);
}

static void differences_listed(void **state)
{
	struct fx *f = *state;

	two_copies_apart(f);
	verify(f, "?repair=false");
	assert_int_equal(f->status, 200);
	assert_int_equal(num(f, "items_owner"), 3);
	assert_int_equal(num(f, "items_backup"), 2);
	assert_int_equal(num(f, "differences_total"), 4);
	assert_int_equal(num(f, "repaired"), 0);
	diff_is(f, "sip:a@x.org", "profile", "different", false);
	diff_is(f, "sip:b@x.org", "contacts", "missing_at_backup", false);
	diff_is(f, "sip:a@x.org/c1/slides.pdf", "content",
		"missing_at_backup", false);
	diff_is(f, "sip:c@x.org", "profile", "only_at_backup", false);
	assert_false(flag(f, "repair"));
	assert_false(flag(f, "equal_after"));
	assert_true(flag(f, "complete"));
	assert_false(same_copies(f)); /* nothing was sent */
}

static void differences_repaired(void **state)
{
	struct fx *f = *state;

	two_copies_apart(f);
	verify(f, "");
	assert_int_equal(f->status, 200);
	assert_int_equal(num(f, "differences_total"), 4);
	assert_int_equal(num(f, "repaired"), 4);
	diff_is(f, "sip:a@x.org", "profile", "different", true);
	diff_is(f, "sip:b@x.org", "contacts", "missing_at_backup", true);
	diff_is(f, "sip:a@x.org/c1/slides.pdf", "content",
		"missing_at_backup", true);
	diff_is(f, "sip:c@x.org", "profile", "only_at_backup", true);
	assert_true(flag(f, "equal_after"));
	assert_true(same_copies(f));
	/* and a second verify finds nothing */
	verify(f, "");
	assert_int_equal(f->status, 200);
	assert_int_equal(num(f, "differences_total"), 0);
	assert_true(flag(f, "equal_after"));
}

/* A user the owner does not know is removed from the backup only with
 * remove_users=true (a failback). */
static void user_only_at_backup(void **state)
{
	struct fx *f = *state;

	put(f, &f->west_store, KIND(USER), "sip:z@x.org", "pool-east");
	verify(f, "");
	assert_int_equal(f->status, 200);
	diff_is(f, "sip:z@x.org", "user", "only_at_backup", false);
	assert_non_null(json_object_get(diff_of(f, "sip:z@x.org"), "note"));
	assert_false(flag(f, "equal_after"));
	assert_false(same_copies(f));
	verify(f, "?remove_users=true");
	assert_int_equal(f->status, 200);
	diff_is(f, "sip:z@x.org", "user", "only_at_backup", true);
	assert_true(flag(f, "equal_after"));
	assert_true(same_copies(f));
}

static void pair_fails(void **state)
{
	struct fx *f = *state;

	f->mode = PEER_DIGEST_500;
	verify(f, "");
	assert_int_equal(f->status, 502);
	assert_string_equal(str(f, "error"), "pair_failed");
	assert_non_null(strstr(str(f, "message"), "the disk is on fire"));
}

static void pair_digest_nonsense(void **state)
{
	struct fx *f = *state;

	f->mode = PEER_DIGEST_NONSENSE;
	verify(f, "");
	assert_int_equal(f->status, 502);
	assert_string_equal(str(f, "error"), "pair_failed");
	assert_non_null(strstr(str(f, "message"), "malformed"));
}

static void pair_keys_nonsense(void **state)
{
	struct fx *f = *state;

	two_copies_apart(f);
	f->mode = PEER_KEYS_NONSENSE;
	verify(f, "");
	assert_int_equal(f->status, 502);
	assert_string_equal(str(f, "error"), "pair_failed");
	assert_int_equal(f->keys_asked, 1);
	assert_false(same_copies(f));
}

static void tcp_closed(uv_handle_t *h) { *(bool *)h->data = true; }

static void pair_unreachable(void **state)
{
	struct fx *f = *state;
	bool closed = false;
	uv_tcp_t t;
	struct sockaddr_in sa;
	struct sockaddr_storage name;
	int len = sizeof name;

	/* a port nobody listens on: bound, never listening */
	uv_ip4_addr("127.0.0.1", 0, &sa);
	assert_int_equal(uv_tcp_init(&f->loop, &t), 0);
	assert_int_equal(uv_tcp_bind(&t, (struct sockaddr *)&sa, 0), 0);
	assert_int_equal(
	    uv_tcp_getsockname(&t, (struct sockaddr *)&name, &len), 0);
	snprintf(f->fsm->members[1].api_address,
		 sizeof f->fsm->members[1].api_address, "127.0.0.1:%d",
		 ntohs(((struct sockaddr_in *)&name)->sin_port));
	verify(f, "");
	assert_int_equal(f->status, 502);
	assert_string_equal(str(f, "error"), "pair_unreachable");
	t.data = &closed;
	uv_close((uv_handle_t *)&t, tcp_closed);
	run_until(f, &closed);
}

/* The outbox never drains (nobody acknowledges): compared anyway once
 * VERIFY_DRAIN_MS have passed on the clock, and said so. */
static void drain_timeout(void **state)
{
	struct fx *f = *state;

	put(f, &f->east_store, KIND(PROFILE), "sip:a@x.org", "{}");
	put(f, &f->east_store, KIND(CONTACTS), "sip:a@x.org", "[]");
	put(f, &f->west_store, KIND(PROFILE), "sip:a@x.org", "{}");
	put(f, &f->west_store, KIND(CONTACTS), "sip:a@x.org", "[]");
	f->clock_step_ns = SEC_NS; /* each reading: a second later */
	verify(f, "");
	assert_int_equal(f->status, 200);
	assert_false(flag(f, "outbox_drained"));
	assert_int_equal(num(f, "outbox_lag"), 2);
	assert_true(num(f, "duration_ms") >= VERIFY_DRAIN_MS);
	assert_int_equal(num(f, "differences_total"), 0);
	assert_true(flag(f, "equal_after"));
	assert_true(flag(f, "complete"));
}

/* The deadline passes while the first differing bucket is listed: the
 * answer is what was found so far, "complete": false, nothing repaired. */
static void deadline(void **state)
{
	struct fx *f = *state;
	char key[64];

	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof key, "sip:u%d@x.org", i);
		put(f, &f->east_store, KIND(PROFILE), key, "{}");
	}
	ack_east(f);
	f->mode = PEER_KEYS_LATE;
	verify(f, "");
	assert_int_equal(f->status, 200);
	assert_true(num(f, "buckets_differing") >= 2);
	assert_int_equal(f->keys_asked, 1);
	assert_true(num(f, "differences_total") >= 1);
	assert_true(num(f, "differences_total") < 40);
	assert_int_equal(num(f, "repaired"), 0);
	assert_false(flag(f, "complete"));
	assert_false(flag(f, "equal_after"));
	assert_false(same_copies(f));
}

/* Closing the module while a verify waits for the outbox to drain: the
 * verify is answered 503 and the close callback fires once, after the
 * run's timer closed. */
static void close_while_draining(void **state)
{
	struct fx *f = *state;

	put(f, &f->east_store, KIND(PROFILE), "sip:a@x.org", "{}");
	ask(f, "");
	while (f->east.runs == NULL ||
	       !uv_is_active((uv_handle_t *)&f->east.runs->timer))
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(f->east.runs->state, VS_DRAIN);
	verify_close(&f->east, east_closed);
	assert_null(f->east.runs); /* ended at once, not at the next poll */
	assert_int_equal(f->east.state, VERIFY_CLOSING);
	assert_int_equal(f->east_closed, 0);
	run_until(f, &f->answered);
	assert_int_equal(f->status, 503);
	assert_string_equal(str(f, "error"), "unavailable");
	while (f->east_closed == 0)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(f->east_closed, 1);
	assert_int_equal(f->east.n_runs, 0);
	/* a verify asked now is refused */
	verify(f, "");
	assert_int_equal(f->status, 503);
}

/* Closing while the pair is being asked: the call is cancelled (502). */
static void close_while_asking(void **state)
{
	struct fx *f = *state;

	put(f, &f->east_store, KIND(PROFILE), "sip:a@x.org", "{}");
	ack_east(f);
	ask(f, "");
	while (f->east.runs == NULL || f->east.runs->call == NULL)
		uv_run(&f->loop, UV_RUN_ONCE);
	verify_close(&f->east, east_closed);
	assert_null(f->east.runs); /* cancelled at once */
	run_until(f, &f->answered);
	assert_int_equal(f->status, 502);
	while (f->east_closed == 0)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(f->east.n_runs, 0);
}

/* With nothing running, the close callback fires at once. */
static void close_idle(void **state)
{
	struct fx *f = *state;

	verify_close(&f->east, east_closed);
	assert_int_equal(f->east_closed, 1);
	assert_int_equal(f->east.state, VERIFY_CLOSED);
	verify_close(&f->east, east_closed); /* ignored */
	assert_int_equal(f->east_closed, 1);
}

static void wrong_owner_and_unknown_pool(void **state)
{
	struct fx *f = *state;
	char path[128];

	snprintf(path, sizeof path, "/v1/backup/pool-west/verify");
	f->answered = false;
	assert_int_equal(hclient_request(&f->calls, "POST", "127.0.0.1",
					 (uint16_t)http_server_port(&f->east_api),
					 path, NULL, NULL, 0, 60000, on_answer,
					 f, NULL),
			 0);
	run_until(f, &f->answered);
	assert_int_equal(f->status, 421);
	assert_string_equal(str(f, "error"), "not_owner");
	assert_string_equal(str(f, "owner"), "pool-west");

	snprintf(path, sizeof path, "/v1/backup/pool-north/verify");
	f->answered = false;
	assert_int_equal(hclient_request(&f->calls, "POST", "127.0.0.1",
					 (uint16_t)http_server_port(&f->east_api),
					 path, NULL, NULL, 0, 60000, on_answer,
					 f, NULL),
			 0);
	run_until(f, &f->answered);
	assert_int_equal(f->status, 404);

	f->fsm->pools[0].pair[0] = '\0';
	verify(f, "");
	assert_int_equal(f->status, 409);
	assert_string_equal(str(f, "error"), "not_paired");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(equal_copies, setup, teardown),
	    cmocka_unit_test_setup_teardown(differences_listed, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(differences_repaired, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(user_only_at_backup, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(pair_fails, setup, teardown),
	    cmocka_unit_test_setup_teardown(pair_digest_nonsense, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(pair_keys_nonsense, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(pair_unreachable, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(drain_timeout, setup, teardown),
	    cmocka_unit_test_setup_teardown(deadline, setup, teardown),
	    cmocka_unit_test_setup_teardown(close_while_draining, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(close_while_asking, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(close_idle, setup, teardown),
	    cmocka_unit_test_setup_teardown(wrong_owner_and_unknown_pool,
					    setup, teardown),
	};

	log_set_level(LOG_LEVEL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
