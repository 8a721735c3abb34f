/* verify: the module and the orchestrator of one verify (verify.h; the
 * state machine is drawn in verify_internal.h): starting a run, the
 * drains, the digests, the keys of the differing buckets, the one
 * transition function and the one completion point. The repairs are
 * verify_repair.c, the pair's endpoints verify_peer.c. */
#include "agent/verify.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/answer.h"
#include "agent/log.h"
#include "agent/verify_b64.h"
#include "agent/verify_internal.h"

#define MOD VERIFY_MOD
#define DRAIN_POLL_MS 100
#define PAIR_TIMEOUT_MS 15000

static const char *const state_names[VS_N_STATES] = {
    "init",	  "drain",	    "digest_local",    "digest_remote",
    "keys_local", "keys_remote",    "repair_read",     "repair_send",
    "redrain",	  "redigest_local", "redigest_remote", "done",
};

#define B(s) (1u << (s))
/* Allowed moves: next states of each state (VS_DONE from anywhere). */
static const unsigned transitions[VS_N_STATES] = {
    [VS_INIT] = B(VS_DRAIN),
    [VS_DRAIN] = B(VS_DIGEST_LOCAL),
    [VS_DIGEST_LOCAL] = B(VS_DIGEST_REMOTE),
    [VS_DIGEST_REMOTE] = B(VS_KEYS_LOCAL) | B(VS_REDRAIN),
    [VS_KEYS_LOCAL] = B(VS_KEYS_REMOTE),
    [VS_KEYS_REMOTE] = B(VS_KEYS_REMOTE) | B(VS_KEYS_LOCAL) |
		       B(VS_REPAIR_READ) | B(VS_REPAIR_SEND) | B(VS_REDRAIN),
    [VS_REPAIR_READ] = B(VS_REPAIR_READ) | B(VS_REPAIR_SEND) | B(VS_REDRAIN),
    [VS_REPAIR_SEND] = B(VS_REPAIR_READ) | B(VS_REPAIR_SEND) | B(VS_REDRAIN),
    [VS_REDRAIN] = B(VS_REDIGEST_LOCAL),
    [VS_REDIGEST_LOCAL] = B(VS_REDIGEST_REMOTE),
    [VS_REDIGEST_REMOTE] = 0,
    [VS_DONE] = 0,
};
#undef B

static const char *const problem_names[] = {
    "missing_at_backup",
    "only_at_backup",
    "different",
};

static uint64_t now_ms(const struct verify_run *r)
{
	return clock_mono_ns(r->m->d.clock) / 1000000;
}

/* ---- the module -------------------------------------------------------- */

int verify_init(struct verify *v, const struct verify_deps *deps)
{
	if (deps->loop == NULL || deps->fsm == NULL ||
	    deps->proposer == NULL || deps->store == NULL ||
	    deps->calls == NULL || deps->clock == NULL ||
	    deps->data_ops == NULL)
		return UV_EINVAL;
	memset(v, 0, sizeof *v);
	v->d = *deps;
	snprintf(v->pool, sizeof v->pool, "%s",
		 deps->pool != NULL ? deps->pool : "");
	v->d.pool = v->pool;
	v->state = VERIFY_OPEN;
	return 0;
}

static void module_closed(struct verify *v)
{
	v->state = VERIFY_CLOSED;
	if (v->close_cb != NULL)
		v->close_cb(v);
}

void verify_close(struct verify *v, void (*cb)(struct verify *v))
{
	struct verify_run *r, *next;

	if (v->state == VERIFY_UNINIT) {
		v->state = VERIFY_CLOSED;
		if (cb != NULL)
			cb(v);
		return;
	}
	if (v->state != VERIFY_OPEN)
		return;
	v->state = VERIFY_CLOSING;
	v->close_cb = cb;
	for (r = v->runs; r != NULL; r = next) {
		next = r->next;
		if (r->call != NULL) {
			/* its callback finishes r, now */
			hclient_cancel(r->call);
		} else if (uv_is_active((uv_handle_t *)&r->timer)) {
			uv_timer_stop(&r->timer);
			vrun_fail(r, 503, "unavailable",
				  "the agent is stopping");
		}
		/* otherwise a store operation is in flight: r ends when it
		 * answers */
	}
	if (v->n_runs == 0)
		module_closed(v);
}

/* ---- a run's life ------------------------------------------------------ */

static void run_closed(uv_handle_t *h)
{
	struct verify_run *r = h->data;
	struct verify *m = r->m;

	free(r);
	m->n_runs--;
	if (m->state == VERIFY_CLOSING && m->n_runs == 0)
		module_closed(m);
}

static void run_release(struct verify_run *r)
{
	for (size_t i = 0; i < r->n_diffs; i++) {
		free(r->diffs[i].key);
		free(r->diffs[i].note);
	}
	free(r->diffs);
	r->diffs = NULL;
	r->n_diffs = 0;
	vkeys_clear(&r->lk);
	vkeys_clear(&r->rk);
	free(r->vbuf);
	r->vbuf = NULL;
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		r->m->runs = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	r->next = r->prev = NULL;
	uv_close((uv_handle_t *)&r->timer, run_closed);
}

void vrun_to(struct verify_run *r, int next)
{
	int level = next == VS_REPAIR_READ || next == VS_REPAIR_SEND ||
			    next == VS_KEYS_LOCAL || next == VS_KEYS_REMOTE
			? LOG_LEVEL_DEBUG
			: LOG_LEVEL_INFO;

	if (next != VS_DONE && (transitions[r->state] & (1u << next)) == 0) {
		LOG_ERROR(MOD, "%s: bad transition %s -> %s", r->user_set,
			  state_names[r->state], state_names[next]);
		abort();
	}
	if (log_enabled(level))
		log_msg(level, MOD, "%s: %s -> %s", r->user_set,
			state_names[r->state], state_names[next]);
	r->state = next;
}

static json_t *diffs_json(const struct verify_run *r)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < r->n_diffs; i++) {
		const struct vdiff *d = &r->diffs[i];
		json_t *o = json_pack("{s:s, s:s, s:b}", "kind",
				      store_kind_name(d->kind), "problem",
				      problem_names[d->problem], "repaired",
				      d->repaired);

		if (o == NULL || verify_json_set_key(o, d->key) != 0 ||
		    (d->note != NULL &&
		     json_object_set_new(o, "note", json_string(d->note)) !=
			 0) ||
		    json_array_append_new(arr, o) != 0) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

void vrun_finish(struct verify_run *r, int status, const char *code,
		 const char *msg)
{
	uint64_t ms = now_ms(r) - r->start_ms;

	vrun_to(r, VS_DONE);
	if (status != 200) {
		LOG_WARN(MOD, "%s: failed after %" PRIu64 " ms: %s",
			 r->user_set, ms, msg);
		http_respond_error(r->req, status, code, msg);
		run_release(r);
		return;
	}
	LOG_INFO(MOD,
		 "%s: %" PRIu64 " differences, %zu repaired, equal after: %s "
		 "(%" PRIu64 " ms)",
		 r->user_set, r->diffs_total, r->n_repaired,
		 r->equal_after ? "yes" : "no", ms);
	json_t *diffs = diffs_json(r);
	json_t *body =
	    diffs == NULL
		? NULL
		: json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:I, "
			    "s:b, s:I, s:b, s:b, s:I, s:b, s:I, s:b}",
			    "user_set", r->user_set, "owner", r->owner,
			    "backup", r->backup, "epoch", (json_int_t)r->epoch,
			    "items_owner", (json_int_t)r->items_local,
			    "items_backup", (json_int_t)r->items_remote,
			    "buckets_differing", (json_int_t)r->n_differing,
			    "differences", diffs, "differences_total",
			    (json_int_t)r->diffs_total, "truncated",
			    r->diffs_total > r->n_diffs, "repaired",
			    (json_int_t)r->n_repaired, "repair", r->repair,
			    "equal_after", r->equal_after, "outbox_lag",
			    (json_int_t)r->lag_before, "outbox_drained",
			    r->drained, "duration_ms", (json_int_t)ms,
			    "complete", !r->incomplete);
	answer_json(r->req, 200, body);
	run_release(r);
}

void vrun_fail(struct verify_run *r, int status, const char *code,
	       const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	vrun_finish(r, status, code, msg);
}

bool vrun_past_deadline(struct verify_run *r)
{
	if (now_ms(r) - r->start_ms < VERIFY_DEADLINE_MS)
		return false;
	if (!r->incomplete)
		LOG_WARN(MOD, "%s: time limit of %d ms reached", r->user_set,
			 VERIFY_DEADLINE_MS);
	r->incomplete = true;
	return true;
}

static unsigned pair_timeout(struct verify_run *r)
{
	uint64_t used = now_ms(r) - r->start_ms;
	uint64_t left =
	    used < VERIFY_DEADLINE_MS ? VERIFY_DEADLINE_MS - used : 1;

	return left < PAIR_TIMEOUT_MS ? (unsigned)left + 1000 : PAIR_TIMEOUT_MS;
}

void vrun_pair_call(struct verify_run *r, const char *verb,
		    const char *method, const char *path, const char *headers,
		    const char *body, size_t body_len, hclient_cb cb)
{
	int rv;

	if (r->m->state != VERIFY_OPEN) {
		vrun_fail(r, 503, "unavailable", "the agent is stopping");
		return;
	}
	rv = hclient_request(r->m->d.calls, method, r->host, r->port, path,
			     headers, body, body_len, pair_timeout(r), cb, r,
			     &r->call);
	if (rv != 0)
		vrun_fail(r, 502, "pair_unreachable",
			  "%s: cannot %s %s at %s: %s", r->user_set, verb,
			  r->backup, r->backup_api, uv_strerror(rv));
}

void vrun_pair_answered(struct verify_run *r) { r->call = NULL; }

void vrun_pair_error(struct verify_run *r, const char *what, int err,
		     const struct hclient_response *resp)
{
	if (err != 0) {
		vrun_fail(r, 502, "pair_unreachable",
			  "%s: %s of %s at %s failed: %s", r->user_set, what,
			  r->backup, r->backup_api, hclient_strerror(err));
		return;
	}
	json_t *root = json_loadb(resp->body, resp->body_len, 0, NULL);
	const char *msg = json_string_value(json_object_get(root, "message"));

	vrun_fail(r, 502, "pair_failed", "%s: %s at %s (%s) answered %d: %s",
		  r->user_set, what, r->backup, r->backup_api, resp->status,
		  msg != NULL ? msg : "no message");
	json_decref(root);
}

static void start_drain(struct verify_run *r, int state);
static void start_digest_local(struct verify_run *r, int state);
static void start_digest_remote(struct verify_run *r, int state);
static void start_keys_local(struct verify_run *r);
static void start_keys_remote(struct verify_run *r);

/* ---- drain: wait until the outbox of the user set is empty ------------- */

static void drain_poll(struct verify_run *r);

static void drain_timer_fired(uv_timer_t *t) { drain_poll(t->data); }

static void drain_end(struct verify_run *r)
{
	if (r->state == VS_DRAIN) {
		r->drained = r->lag == 0;
		r->lag_before = r->lag;
		if (!r->drained)
			LOG_WARN(MOD,
				 "%s: outbox still holds %" PRIu64
				 " records after %d ms: comparing anyway",
				 r->user_set, r->lag, VERIFY_DRAIN_MS);
		start_digest_local(r, VS_DIGEST_LOCAL);
	} else {
		start_digest_local(r, VS_REDIGEST_LOCAL);
	}
}

static void positions_got(void *arg, int status,
			  const struct store_positions *p)
{
	struct verify_run *r = arg;

	if (status != 0) {
		vrun_fail(r, 503, "unavailable", "store: %s",
			  verify_emsg(p != NULL ? p->errmsg : NULL, status));
		return;
	}
	r->lag = 0;
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].user_set, r->user_set) == 0)
			r->lag += p->v[i].lag_records;
	if (r->lag == 0 || now_ms(r) - r->drain_ms >= VERIFY_DRAIN_MS) {
		drain_end(r);
		return;
	}
	if (r->m->state != VERIFY_OPEN) {
		vrun_fail(r, 503, "unavailable", "the agent is stopping");
		return;
	}
	uv_timer_start(&r->timer, drain_timer_fired, DRAIN_POLL_MS, 0);
}

static void drain_poll(struct verify_run *r)
{
	int rv = store_stream_positions(r->m->d.store, positions_got, r);

	if (rv != 0)
		vrun_fail(r, 503, "unavailable", "store: %s",
			  store_strerror(rv));
}

static void start_drain(struct verify_run *r, int state)
{
	vrun_to(r, state);
	r->drain_ms = now_ms(r);
	drain_poll(r);
}

void vrun_redrain(struct verify_run *r) { start_drain(r, VS_REDRAIN); }

/* ---- digests ----------------------------------------------------------- */

static void digest_local_got(void *arg, int status,
			     const struct store_digest *d)
{
	struct verify_run *r = arg;

	if (status != 0) {
		vrun_fail(r, 503, "unavailable", "store: digest: %s",
			  verify_emsg(d != NULL ? d->errmsg : NULL, status));
		return;
	}
	if (r->state == VS_DIGEST_LOCAL) {
		memcpy(r->local, d->buckets, sizeof r->local);
		r->items_local = d->items;
		start_digest_remote(r, VS_DIGEST_REMOTE);
	} else {
		memcpy(r->after_local, d->buckets, sizeof r->after_local);
		start_digest_remote(r, VS_REDIGEST_REMOTE);
	}
}

static void start_digest_local(struct verify_run *r, int state)
{
	int rv;

	vrun_to(r, state);
	rv = store_digest(r->m->d.store, r->user_set, digest_local_got, r);
	if (rv != 0)
		vrun_fail(r, 503, "unavailable", "store: %s",
			  store_strerror(rv));
}

/* Parse a digest answer into out/items. Returns 0 or -1. */
static int parse_digest(const struct hclient_response *resp,
			const char *user_set,
			struct store_digest_bucket out[STORE_DIGEST_BUCKETS],
			uint64_t *items)
{
	json_t *root = json_loadb(resp->body, resp->body_len, 0, NULL);
	json_t *arr = json_object_get(root, "buckets");
	json_t *it = json_object_get(root, "items");
	const char *us = json_string_value(json_object_get(root, "user_set"));
	int rv = -1;

	if (!json_is_array(arr) ||
	    json_array_size(arr) != STORE_DIGEST_BUCKETS ||
	    !json_is_integer(it) || json_integer_value(it) < 0 || us == NULL ||
	    strcmp(us, user_set) != 0)
		goto out;
	for (size_t i = 0; i < STORE_DIGEST_BUCKETS; i++) {
		json_t *b = json_array_get(arr, i);
		json_t *c = json_object_get(b, "count");
		const char *h = json_string_value(json_object_get(b, "hash"));

		if (!json_is_integer(c) || json_integer_value(c) < 0 ||
		    h == NULL || !verify_parse_hash(h, &out[i].hash))
			goto out;
		out[i].count = (uint64_t)json_integer_value(c);
	}
	*items = (uint64_t)json_integer_value(it);
	rv = 0;
out:
	json_decref(root);
	return rv;
}

static void digest_remote_got(void *arg, int err,
			      const struct hclient_response *resp)
{
	struct verify_run *r = arg;
	struct store_digest_bucket remote[STORE_DIGEST_BUCKETS];
	uint64_t items;

	vrun_pair_answered(r);
	if (err != 0 || resp->status != 200) {
		vrun_pair_error(r, "digest", err, resp);
		return;
	}
	if (parse_digest(resp, r->user_set, remote, &items) != 0) {
		vrun_fail(r, 502, "pair_failed",
			  "%s: the digest of %s at %s is malformed",
			  r->user_set, r->backup, r->backup_api);
		return;
	}
	if (r->state == VS_REDIGEST_REMOTE) {
		r->equal_after =
		    memcmp(remote, r->after_local, sizeof remote) == 0;
		vrun_finish(r, 200, NULL, NULL);
		return;
	}
	memcpy(r->remote, remote, sizeof remote);
	r->items_remote = items;
	r->n_differing = 0;
	for (unsigned b = 0; b < STORE_DIGEST_BUCKETS; b++)
		if (r->local[b].count != r->remote[b].count ||
		    r->local[b].hash != r->remote[b].hash)
			r->differing[r->n_differing++] = b;
	LOG_INFO(MOD,
		 "%s: %" PRIu64 " items here, %" PRIu64
		 " at %s; %u of %d buckets differ",
		 r->user_set, r->items_local, r->items_remote, r->backup,
		 r->n_differing, STORE_DIGEST_BUCKETS);
	if (r->n_differing == 0) {
		r->equal_after = true;
		vrun_finish(r, 200, NULL, NULL);
		return;
	}
	r->bi = 0;
	start_keys_local(r);
}

static void start_digest_remote(struct verify_run *r, int state)
{
	char path[128 + FSM_NAME_LEN];

	vrun_to(r, state);
	snprintf(path, sizeof path, "/v1/internal/digest?user_set=%s",
		 r->user_set);
	vrun_pair_call(r, "ask", "GET", path, NULL, NULL, 0, digest_remote_got);
}

/* ---- keys of the differing buckets ------------------------------------- */

static int add_diff(struct verify_run *r, int kind, const char *key,
		    int problem)
{
	struct vdiff *d;

	r->diffs_total++;
	if (r->n_diffs >= VERIFY_DIFF_MAX)
		return 0;
	if (r->n_diffs == r->cap_diffs) {
		size_t ncap = r->cap_diffs ? r->cap_diffs * 2 : 16;
		struct vdiff *nd = realloc(r->diffs, ncap * sizeof *nd);

		if (nd == NULL)
			return -ENOMEM;
		r->diffs = nd;
		r->cap_diffs = ncap;
	}
	d = &r->diffs[r->n_diffs];
	memset(d, 0, sizeof *d);
	d->key = strdup(key);
	if (d->key == NULL)
		return -ENOMEM;
	d->kind = kind;
	d->problem = problem;
	r->n_diffs++;
	return 0;
}

/* Both lists of the current bucket are in: record what differs. */
static int compare_bucket(struct verify_run *r)
{
	size_t i = 0, j = 0;
	int rv = 0;

	vkeys_sort(&r->lk);
	vkeys_sort(&r->rk);
	while (rv == 0 && (i < r->lk.n || j < r->rk.n)) {
		const struct vkey *l = i < r->lk.n ? &r->lk.v[i] : NULL;
		const struct vkey *k = j < r->rk.n ? &r->rk.v[j] : NULL;
		int c = l == NULL ? 1
			: k == NULL
			    ? -1
			    : verify_key_cmp(l->kind, l->key, k->kind, k->key);

		if (c < 0) {
			rv = add_diff(r, l->kind, l->key, VP_MISSING_AT_BACKUP);
			i++;
		} else if (c > 0) {
			rv = add_diff(r, k->kind, k->key, VP_ONLY_AT_BACKUP);
			j++;
		} else {
			if (l->hash != k->hash)
				rv = add_diff(r, l->kind, l->key, VP_DIFFERENT);
			i++;
			j++;
		}
	}
	vkeys_clear(&r->lk);
	vkeys_clear(&r->rk);
	return rv;
}

static void keys_local_got(void *arg, int status,
			   const struct store_key_list *l)
{
	struct verify_run *r = arg;

	if (status != 0) {
		vrun_fail(r, 503, "unavailable", "store: keys: %s",
			  verify_emsg(l != NULL ? l->errmsg : NULL, status));
		return;
	}
	if (l->n > VERIFY_KEYS_MAX) {
		vrun_fail(r, 507, "too_large",
			  "%s: bucket %u holds %zu items, more than %zu",
			  r->user_set, r->differing[r->bi], l->n,
			  VERIFY_KEYS_MAX);
		return;
	}
	for (size_t i = 0; i < l->n; i++)
		if (vkeys_add(&r->lk, l->v[i].kind, l->v[i].key,
			      strlen(l->v[i].key), l->v[i].hash) != 0) {
			vrun_fail(r, 500, "internal", "out of memory");
			return;
		}
	r->roffset = 0;
	start_keys_remote(r);
}

static void start_keys_local(struct verify_run *r)
{
	int rv;

	vrun_to(r, VS_KEYS_LOCAL);
	rv = store_diff_keys(r->m->d.store, r->user_set, r->differing[r->bi],
			     keys_local_got, r);
	if (rv != 0)
		vrun_fail(r, 503, "unavailable", "store: %s",
			  store_strerror(rv));
}

/* One key of a keys answer into r->rk. 0, -EINVAL (malformed) or
 * -ENOMEM. */
static int parse_key(struct verify_run *r, json_t *e)
{
	json_t *k = json_object_get(e, "kind");
	const char *key = json_string_value(json_object_get(e, "key"));
	const char *kb = json_string_value(json_object_get(e, "key_b64"));
	const char *h = json_string_value(json_object_get(e, "hash"));
	uint64_t hash;
	uint8_t *raw = NULL;
	size_t rawlen;
	int rv;

	if (!json_is_integer(k) || json_integer_value(k) < 0 ||
	    json_integer_value(k) > KIND_USER || h == NULL ||
	    !verify_parse_hash(h, &hash) || (key == NULL) == (kb == NULL))
		return -EINVAL;
	if (key != NULL)
		return vkeys_add(&r->rk, (int)json_integer_value(k), key,
				 strlen(key), hash);
	rv = verify_b64_decode(kb, strlen(kb), &raw, &rawlen);
	if (rv != 0)
		return rv == -ENOMEM ? rv : -EINVAL;
	if (memchr(raw, '\0', rawlen) != NULL)
		rv = -EINVAL;
	else
		rv = vkeys_add(&r->rk, (int)json_integer_value(k),
			       (const char *)raw, rawlen, hash);
	free(raw);
	return rv;
}

/* Append one page of the pair's keys; *next gets the next offset or 0 when
 * done. Returns 0, -EINVAL (malformed) or -ENOMEM. */
static int parse_keys(struct verify_run *r,
		      const struct hclient_response *resp, uint64_t *next)
{
	json_t *root = json_loadb(resp->body, resp->body_len, 0, NULL);
	json_t *arr = json_object_get(root, "keys");
	json_t *nx = json_object_get(root, "next");
	json_t *b = json_object_get(root, "bucket");
	int rv = -EINVAL;
	size_t i;
	json_t *e;

	if (!json_is_array(arr) || !json_is_integer(b) ||
	    json_integer_value(b) != (json_int_t)r->differing[r->bi] ||
	    (!json_is_null(nx) && !json_is_integer(nx)))
		goto out;
	*next = 0;
	if (json_is_integer(nx)) {
		if (json_integer_value(nx) <= (json_int_t)r->roffset ||
		    json_array_size(arr) == 0)
			goto out;
		*next = (uint64_t)json_integer_value(nx);
	}
	if (r->rk.n + json_array_size(arr) > VERIFY_KEYS_MAX)
		goto out;
	json_array_foreach (arr, i, e) {
		rv = parse_key(r, e);
		if (rv != 0)
			goto out;
	}
	rv = 0;
out:
	json_decref(root);
	return rv;
}

static void keys_remote_got(void *arg, int err,
			    const struct hclient_response *resp)
{
	struct verify_run *r = arg;
	uint64_t next = 0;
	int rv;

	vrun_pair_answered(r);
	if (err != 0 || resp->status != 200) {
		vrun_pair_error(r, "keys", err, resp);
		return;
	}
	rv = parse_keys(r, resp, &next);
	if (rv == -ENOMEM) {
		vrun_fail(r, 500, "internal", "out of memory");
		return;
	}
	if (rv != 0) {
		vrun_fail(r, 502, "pair_failed",
			  "%s: the keys of bucket %u at %s (%s) are "
			  "malformed",
			  r->user_set, r->differing[r->bi], r->backup,
			  r->backup_api);
		return;
	}
	if (next != 0 && !vrun_past_deadline(r)) {
		r->roffset = next;
		start_keys_remote(r);
		return;
	}
	if (next != 0) { /* out of time: this bucket is not compared */
		vkeys_clear(&r->lk);
		vkeys_clear(&r->rk);
		vrun_start_repairs(r);
		return;
	}
	if (compare_bucket(r) != 0) {
		vrun_fail(r, 500, "internal", "out of memory");
		return;
	}
	r->bi++;
	if (r->bi < r->n_differing && !vrun_past_deadline(r)) {
		start_keys_local(r);
		return;
	}
	vrun_start_repairs(r);
}

static void start_keys_remote(struct verify_run *r)
{
	char path[160 + FSM_NAME_LEN];

	vrun_to(r, VS_KEYS_REMOTE);
	snprintf(path, sizeof path,
		 "/v1/internal/keys?user_set=%s&bucket=%u&offset=%" PRIu64,
		 r->user_set, r->differing[r->bi], r->roffset);
	vrun_pair_call(r, "ask", "GET", path, NULL, NULL, 0, keys_remote_got);
}

/* ---- POST /v1/backup/{pool}/verify ------------------------------------- */

/* Query parameter name as true|1|false|0 into *out (left alone when the
 * parameter is absent); false after answering 400 when it is neither. */
static bool bool_param(struct http_request *req, const char *name, bool *out)
{
	char buf[16];
	int rv = http_query_param(req, name, buf, sizeof buf);

	if (rv == UV_ENOENT)
		return true;
	if (rv == 0 && (strcmp(buf, "true") == 0 || strcmp(buf, "1") == 0)) {
		*out = true;
		return true;
	}
	if (rv == 0 && (strcmp(buf, "false") == 0 || strcmp(buf, "0") == 0)) {
		*out = false;
		return true;
	}
	char msg[64];

	snprintf(msg, sizeof msg, "%s must be true or false", name);
	http_respond_error(req, 400, "invalid", msg);
	return false;
}

/* The checks before a run: answers req and returns NULL when one fails,
 * else the pool of user set pool (p) and of its owner (*o). */
static const struct fsm_pool *start_checks(struct verify *m,
					   struct http_request *req,
					   const char *pool,
					   const struct fsm_pool **o)
{
	const struct fsm *f = m->d.fsm;
	const struct fsm_pool *p;

	if (!m->d.data_ops->ready(m->d.data, req))
		return NULL;
	p = verify_name_ok(pool) ? fsm_pool_find(f, pool) : NULL;
	if (p == NULL &&
	    (f->n_pools == 0 || proposer_leader(m->d.proposer, NULL) == 0)) {
		http_respond_error(req, 503, "unavailable",
				   "the cluster state is still loading: retry");
		return NULL;
	}
	if (p == NULL) {
		char msg[128];

		snprintf(msg, sizeof msg, "pool %.64s is not defined", pool);
		http_respond_error(req, 404, "not_found", msg);
		return NULL;
	}
	*o = fsm_pool_find(f, p->owner);
	if (p->pair[0] == '\0' || *o == NULL || (*o)->pair[0] == '\0') {
		char msg[160];

		snprintf(msg, sizeof msg,
			 "pool %s is not paired: there is no backup copy to "
			 "compare",
			 p->name);
		http_respond_error(req, 409, "not_paired", msg);
		return NULL;
	}
	if (strcmp(p->owner, m->pool) != 0) {
		char msg[256];

		snprintf(msg, sizeof msg,
			 "the user set of %s is owned by %s: verify there",
			 p->name, p->owner);
		answer_json(req, 421,
			    json_pack("{s:s, s:s, s:s, s:s}", "error",
				      "not_owner", "message", msg, "owner",
				      p->owner, "owner_api",
				      answer_owner_api(f, p->owner)));
		return NULL;
	}
	return p;
}

static void verify_start(struct verify *m, struct http_request *req,
			 const char *pool)
{
	const struct fsm_pool *p, *o = NULL;
	struct verify_run *r;
	char url[FSM_ADDR_LEN + 16];
	bool repair = true, remove_users = false;

	if (!bool_param(req, "repair", &repair) ||
	    !bool_param(req, "remove_users", &remove_users))
		return;
	if (m->state != VERIFY_OPEN) {
		http_respond_error(req, 503, "unavailable",
				   "the agent is stopping");
		return;
	}
	p = start_checks(m, req, pool, &o);
	if (p == NULL)
		return;
	r = calloc(1, sizeof *r);
	if (r == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	r->m = m;
	uv_timer_init(m->d.loop, &r->timer);
	r->timer.data = r;
	r->next = m->runs;
	if (m->runs != NULL)
		m->runs->prev = r;
	m->runs = r;
	m->n_runs++;
	r->req = req;
	r->state = VS_INIT;
	r->repair = repair;
	r->remove_users = remove_users;
	r->epoch = p->epoch;
	r->start_ms = now_ms(r);
	snprintf(r->user_set, sizeof r->user_set, "%s", p->name);
	snprintf(r->owner, sizeof r->owner, "%s", p->owner);
	snprintf(r->backup, sizeof r->backup, "%s", o->pair);
	snprintf(r->backup_api, sizeof r->backup_api, "%s",
		 answer_owner_api(m->d.fsm, o->pair));
	snprintf(url, sizeof url, "http://%s", r->backup_api);
	if (r->backup_api[0] == '\0' ||
	    hclient_parse_url(url, r->host, sizeof r->host, &r->port, NULL,
			      0) != 0) {
		vrun_fail(r, 503, "unavailable",
			  "no API address of an agent of %s is known",
			  r->backup);
		return;
	}
	LOG_INFO(MOD,
		 "%s: verify against %s at %s (owner epoch %" PRIu64
		 ", repair %s)",
		 r->user_set, r->backup, r->backup_api, r->epoch,
		 repair ? "on" : "off");
	start_drain(r, VS_DRAIN);
}

void verify_route_start(void *module, struct http_request *req,
			const struct route_params *p)
{
	const char *pool = route_param(p, "pool");

	if (strlen(pool) > FSM_NAME_LEN) {
		http_respond_error(req, 404, "not_found", "no such pool");
		return;
	}
	verify_start(module, req, pool);
}
