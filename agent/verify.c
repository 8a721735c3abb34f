/* verify: compare both copies of a user set, repair the backup (see
 * verify.h).
 *
 * One verify is a struct verify driven by an explicit state machine:
 *
 *   init -> drain -> digest_local -> digest_remote
 *        -> (keys_local -> keys_remote)* per differing bucket
 *        -> (repair_read <-> repair_send)* per difference
 *        -> redrain -> redigest_local -> redigest_remote -> done
 *
 * Exactly one store operation, HTTP request or timer is in flight at any
 * time; its callback makes the next move. verify_finish() is the one place
 * where the HTTP answer is sent and the verify freed. */
#include "agent/verify.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/answer.h"
#include "agent/api.h"
#include "agent/users.h"
#include "agent/hclient.h"
#include "agent/log.h"

#define MOD "verify"
#define KIND_CONTENT POOLPAIR__REPL__KIND__KIND_CONTENT
#define KIND_USER POOLPAIR__REPL__KIND__KIND_USER
#define DRAIN_POLL_MS 100
#define PAIR_TIMEOUT_MS 15000
#define KEYS_MAX ((size_t)1 << 20) /* keys of one bucket on one side */
/* the API takes bodies up to 1 MiB + 4 KiB (agent.c) */
#define BODY_B64_MAX ((size_t)1 << 20)
#define BODY_RAW_MAX (((size_t)1 << 20) + 2048)

/* ---- base64 (standard alphabet, padded) -------------------------------- */

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Encode n bytes; returns a NUL-terminated string (owned by the caller) or
 * NULL when out of memory; *outlen gets its length. */
static char *b64_encode(const uint8_t *in, size_t n, size_t *outlen)
{
	size_t len = (n + 2) / 3 * 4;
	char *out = malloc(len + 1);
	size_t i, o = 0;

	if (out == NULL)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			     in[i + 2];

		out[o++] = b64_chars[w >> 18 & 63];
		out[o++] = b64_chars[w >> 12 & 63];
		out[o++] = b64_chars[w >> 6 & 63];
		out[o++] = b64_chars[w & 63];
	}
	if (i < n) {
		uint32_t w = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			w |= (uint32_t)in[i + 1] << 8;
		out[o++] = b64_chars[w >> 18 & 63];
		out[o++] = b64_chars[w >> 12 & 63];
		out[o++] = i + 1 < n ? b64_chars[w >> 6 & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

static int b64_value(char c)
{
	const char *p = c != '\0' ? strchr(b64_chars, c) : NULL;

	return p != NULL ? (int)(p - b64_chars) : -1;
}

/* Decode strictly (length a multiple of 4 once trailing white space is
 * dropped, padding only at the end). Returns 0 with *out (owned by the
 * caller, malloc'd) and *outlen, or -EINVAL / -ENOMEM. */
static int b64_decode(const char *in, size_t n, uint8_t **out, size_t *outlen)
{
	uint8_t *buf;
	size_t i, o = 0, pad = 0;

	while (n > 0 && (in[n - 1] == '\n' || in[n - 1] == '\r' ||
			 in[n - 1] == ' ' || in[n - 1] == '\t'))
		n--;
	if (n == 0 || n % 4 != 0)
		return -EINVAL;
	if (in[n - 1] == '=')
		pad = in[n - 2] == '=' ? 2 : 1;
	buf = malloc(n / 4 * 3);
	if (buf == NULL)
		return -ENOMEM;
	for (i = 0; i < n; i += 4) {
		int v[4];
		bool last = i + 4 == n;

		for (int j = 0; j < 4; j++) {
			if (last && in[i + j] == '=' && j >= 4 - (int)pad) {
				v[j] = 0;
				continue;
			}
			v[j] = b64_value(in[i + j]);
			if (v[j] < 0) {
				free(buf);
				return -EINVAL;
			}
		}
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			     (uint32_t)v[2] << 6 | (uint32_t)v[3];

		buf[o++] = (uint8_t)(w >> 16);
		if (!last || pad < 2)
			buf[o++] = (uint8_t)(w >> 8);
		if (!last || pad < 1)
			buf[o++] = (uint8_t)w;
	}
	*out = buf;
	*outlen = o;
	return 0;
}

/* ---- small helpers ---------------------------------------------------- */

/* The message of a failed store operation. */
static const char *emsg(const char *errmsg, int status)
{
	return errmsg != NULL && errmsg[0] ? errmsg : store_strerror(status);
}

static const char *kind_name(int kind)
{
	switch (kind) {
	case POOLPAIR__REPL__KIND__KIND_PROFILE:
		return "profile";
	case POOLPAIR__REPL__KIND__KIND_CONTACTS:
		return "contacts";
	case POOLPAIR__REPL__KIND__KIND_SETTINGS:
		return "settings";
	case POOLPAIR__REPL__KIND__KIND_CONFERENCE:
		return "conference";
	case KIND_CONTENT:
		return "content";
	case POOLPAIR__REPL__KIND__KIND_CMS:
		return "cms";
	case KIND_USER:
		return "user";
	default:
		return "unknown";
	}
}

static const char *op_name(int op)
{
	switch (op) {
	case POOLPAIR__REPL__OP__OP_PUT:
		return "put";
	case POOLPAIR__REPL__OP__OP_DELETE:
		return "delete";
	case POOLPAIR__REPL__OP__OP_CONTENT_CHUNK:
		return "content_chunk";
	case POOLPAIR__REPL__OP__OP_PURGE_USER:
		return "purge";
	default:
		return "unknown";
	}
}

/* A user set name as in the FSM: 1..63 of [A-Za-z0-9._-]. */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= FSM_NAME_LEN)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

/* Unsigned decimal in [0, max]; false on anything else. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_hash(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (strlen(s) != 16)
		return false;
	for (int i = 0; i < 16; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else
			return false;
		v = v << 4 | d;
	}
	*out = v;
	return true;
}

/* API address of an agent of pool, or "". */
static const char *pool_api(struct agent *a, const char *pool)
{
	for (unsigned i = 0; i < a->fsm.n_members; i++)
		if (strcmp(a->fsm.members[i].pool, pool) == 0 &&
		    a->fsm.members[i].api_address[0] != '\0')
			return a->fsm.members[i].api_address;
	return "";
}

/* Set "key" (UTF-8) or "key_b64" of obj. Returns 0 or -1. */
static int json_set_key(json_t *obj, const char *key)
{
	json_t *s = json_string(key);
	char *b;
	size_t n;

	if (s != NULL)
		return json_object_set_new(obj, "key", s);
	b = b64_encode((const uint8_t *)key, strlen(key), &n);
	if (b == NULL)
		return -1;
	s = json_string(b);
	free(b);
	return s != NULL ? json_object_set_new(obj, "key_b64", s) : -1;
}

/* ---- the keys of one bucket, as compared ------------------------------- */

struct vkey {
	int kind;
	char *key; /* owned */
	uint64_t hash;
};

struct vkeys {
	struct vkey *v; /* owned */
	size_t n, cap;
};

static int vkeys_add(struct vkeys *k, int kind, const char *key, size_t klen,
		     uint64_t hash)
{
	if (k->n == k->cap) {
		size_t ncap = k->cap ? k->cap * 2 : 64;
		struct vkey *nv = realloc(k->v, ncap * sizeof *nv);

		if (nv == NULL)
			return -ENOMEM;
		k->v = nv;
		k->cap = ncap;
	}
	k->v[k->n].key = strndup(key, klen);
	if (k->v[k->n].key == NULL)
		return -ENOMEM;
	k->v[k->n].kind = kind;
	k->v[k->n].hash = hash;
	k->n++;
	return 0;
}

static void vkeys_clear(struct vkeys *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->v[i].key);
	free(k->v);
	memset(k, 0, sizeof *k);
}

static int vkey_cmp(int ka, const char *a, int kb, const char *b)
{
	if (ka != kb)
		return ka < kb ? -1 : 1;
	return strcmp(a, b);
}

static int vkey_qcmp(const void *x, const void *y)
{
	const struct vkey *a = x, *b = y;

	return vkey_cmp(a->kind, a->key, b->kind, b->key);
}

/* ---- one verify -------------------------------------------------------- */

enum verify_state {
	VS_INIT,
	VS_DRAIN,	   /* waiting for the outbox of the user set to empty */
	VS_DIGEST_LOCAL,   /* store_digest of the owner's copy */
	VS_DIGEST_REMOTE,  /* GET /v1/internal/digest at the pair */
	VS_KEYS_LOCAL,	   /* store_diff_keys of the current bucket */
	VS_KEYS_REMOTE,	   /* GET /v1/internal/keys at the pair (paged) */
	VS_REPAIR_READ,	   /* reading the owner's item (or its next chunk) */
	VS_REPAIR_SEND,	   /* POST /v1/internal/repair at the pair */
	VS_REDRAIN,	   /* as VS_DRAIN, before the second digest */
	VS_REDIGEST_LOCAL, /* the second digest, here */
	VS_REDIGEST_REMOTE, /* the second digest, at the pair */
	VS_DONE,
	VS_N_STATES
};

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

enum vproblem {
	VP_MISSING_AT_BACKUP,
	VP_ONLY_AT_BACKUP,
	VP_DIFFERENT,
};

static const char *const problem_names[] = {
    "missing_at_backup",
    "only_at_backup",
    "different",
};

struct vdiff {
	int kind;
	char *key;   /* owned */
	int problem; /* enum vproblem */
	bool repaired;
	char *note; /* owned, NULL when none: why it was not repaired */
};

struct verify {
	struct agent *a;	  /* borrowed */
	struct http_request *req; /* borrowed until verify_finish() */
	int state;		  /* enum verify_state */
	bool repair;		  /* repairs wanted (?repair=false: no) */
	bool remove_users;	  /* users only at the backup are removed too
				     (?remove_users=true: a failback, where
				     they are the archived never-shipped tail) */
	char user_set[FSM_NAME_LEN];
	char owner[FSM_NAME_LEN];
	char backup[FSM_NAME_LEN];
	char backup_api[FSM_ADDR_LEN];
	char host[HCLIENT_HOST_MAX];
	uint16_t port;
	uint64_t epoch;	     /* owner epoch the repairs are sent under */
	uint64_t start_ms;   /* uv_now() at the start */
	uint64_t drain_ms;   /* uv_now() when the current drain began */
	uint64_t lag;	     /* outbox records of the user set, last seen */
	bool drained;	     /* the first drain reached 0 */
	uint64_t lag_before; /* lag when comparing began */
	bool incomplete;     /* stopped at the deadline */

	struct store_digest_bucket local[STORE_DIGEST_BUCKETS];
	struct store_digest_bucket remote[STORE_DIGEST_BUCKETS];
	uint64_t items_local, items_remote;
	unsigned differing[STORE_DIGEST_BUCKETS];
	unsigned n_differing;
	unsigned bi; /* index into differing of the bucket being listed */
	struct vkeys lk, rk;
	uint64_t roffset; /* next page of the remote keys */

	struct vdiff *diffs; /* owned, at most VERIFY_DIFF_MAX */
	size_t n_diffs, cap_diffs;
	uint64_t diffs_total;
	size_t di;	   /* difference being repaired */
	size_t n_repaired; /* differences repaired */
	bool attempted;	   /* a repair was sent */

	/* the item being repaired */
	int step;	   /* user records: 0 put, 1 the delete that disables */
	bool user_enabled; /* of the owner's user record */
	uint64_t coff;	   /* content: next offset to read */
	uint64_t ctotal, cstored;
	Poolpair__Repl__ChangeRecord rec; /* to send; key, user_set point
					     into v, value to vbuf */
	uint8_t *vbuf;			  /* owned copy of the value */
	char vkey[STORE_KEY_MAX + 1];

	/* the second digest */
	struct store_digest_bucket after_local[STORE_DIGEST_BUCKETS];
	bool equal_after;
};

static void verify_free(struct verify *v)
{
	for (size_t i = 0; i < v->n_diffs; i++) {
		free(v->diffs[i].key);
		free(v->diffs[i].note);
	}
	free(v->diffs);
	vkeys_clear(&v->lk);
	vkeys_clear(&v->rk);
	free(v->vbuf);
	free(v);
}

/* The one transition function: checks the move and logs it. */
static void verify_to(struct verify *v, int next)
{
	int level = next == VS_REPAIR_READ || next == VS_REPAIR_SEND ||
			    next == VS_KEYS_LOCAL || next == VS_KEYS_REMOTE
			? LOG_LEVEL_DEBUG
			: LOG_LEVEL_INFO;

	if (next != VS_DONE && (transitions[v->state] & (1u << next)) == 0) {
		LOG_ERROR(MOD, "%s: bad transition %s -> %s", v->user_set,
			  state_names[v->state], state_names[next]);
		abort();
	}
	if (log_enabled(level))
		log_msg(level, MOD, "%s: %s -> %s", v->user_set,
			state_names[v->state], state_names[next]);
	v->state = next;
}

static json_t *diffs_json(const struct verify *v)
{
	json_t *arr = json_array();

	for (size_t i = 0; arr != NULL && i < v->n_diffs; i++) {
		const struct vdiff *d = &v->diffs[i];
		json_t *o = json_pack(
		    "{s:s, s:s, s:b}", "kind", kind_name(d->kind), "problem",
		    problem_names[d->problem], "repaired", d->repaired);

		if (o == NULL || json_set_key(o, d->key) != 0 ||
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

/* The one completion point: answer (status 200: the report; otherwise
 * the error code and message) and free v. */
static void verify_finish(struct verify *v, int status, const char *code,
			  const char *msg)
{
	struct agent *a = v->a;
	uint64_t ms = uv_now(a->loop) - v->start_ms;

	verify_to(v, VS_DONE);
	if (status != 200) {
		LOG_WARN(MOD, "%s: failed after %" PRIu64 " ms: %s",
			 v->user_set, ms, msg);
		http_respond_error(v->req, status, code, msg);
		verify_free(v);
		return;
	}
	LOG_INFO(MOD,
		 "%s: %" PRIu64 " differences, %zu repaired, equal after: %s "
		 "(%" PRIu64 " ms)",
		 v->user_set, v->diffs_total, v->n_repaired,
		 v->equal_after ? "yes" : "no", ms);
	json_t *diffs = diffs_json(v);
	json_t *body =
	    diffs == NULL
		? NULL
		: json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:I, "
			    "s:b, s:I, s:b, s:b, s:I, s:b, s:I, s:b}",
			    "user_set", v->user_set, "owner", v->owner,
			    "backup", v->backup, "epoch", (json_int_t)v->epoch,
			    "items_owner", (json_int_t)v->items_local,
			    "items_backup", (json_int_t)v->items_remote,
			    "buckets_differing", (json_int_t)v->n_differing,
			    "differences", diffs, "differences_total",
			    (json_int_t)v->diffs_total, "truncated",
			    v->diffs_total > v->n_diffs, "repaired",
			    (json_int_t)v->n_repaired, "repair", v->repair,
			    "equal_after", v->equal_after, "outbox_lag",
			    (json_int_t)v->lag_before, "outbox_drained",
			    v->drained, "duration_ms", (json_int_t)ms,
			    "complete", !v->incomplete);
	answer_json(v->req, 200, body);
	verify_free(v);
}

static void verify_fail(struct verify *v, int status, const char *code,
			const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void verify_fail(struct verify *v, int status, const char *code,
			const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	verify_finish(v, status, code, msg);
}

static bool past_deadline(struct verify *v)
{
	if (uv_now(v->a->loop) - v->start_ms < VERIFY_DEADLINE_MS)
		return false;
	if (!v->incomplete)
		LOG_WARN(MOD, "%s: time limit of %d ms reached", v->user_set,
			 VERIFY_DEADLINE_MS);
	v->incomplete = true;
	return true;
}

static unsigned pair_timeout(struct verify *v)
{
	uint64_t used = uv_now(v->a->loop) - v->start_ms;
	uint64_t left =
	    used < VERIFY_DEADLINE_MS ? VERIFY_DEADLINE_MS - used : 1;

	return left < PAIR_TIMEOUT_MS ? (unsigned)left + 1000 : PAIR_TIMEOUT_MS;
}

/* A pair answer that is not a 200: the message for verify_fail. */
static void pair_error(struct verify *v, const char *what, int err,
		       const struct hclient_response *resp)
{
	if (err != 0) {
		verify_fail(v, 502, "pair_unreachable",
			    "%s: %s of %s at %s failed: %s", v->user_set, what,
			    v->backup, v->backup_api, hclient_strerror(err));
		return;
	}
	json_t *root = json_loadb(resp->body, resp->body_len, 0, NULL);
	const char *m = json_string_value(json_object_get(root, "message"));

	verify_fail(v, 502, "pair_failed", "%s: %s at %s (%s) answered %d: %s",
		    v->user_set, what, v->backup, v->backup_api, resp->status,
		    m != NULL ? m : "no message");
	json_decref(root);
}

static void start_drain(struct verify *v, int state);
static void start_digest_local(struct verify *v, int state);
static void start_digest_remote(struct verify *v, int state);
static void start_keys_local(struct verify *v);
static void start_keys_remote(struct verify *v);
static void start_repairs(struct verify *v);
static void next_repair(struct verify *v);
static void send_record(struct verify *v);

/* ---- drain: wait until the outbox of the user set is empty ------------- */

static void drain_timer_closed(uv_handle_t *h) { free(h); }

static void drain_poll(struct verify *v);

static void drain_timer_fired(uv_timer_t *t)
{
	struct verify *v = t->data;

	uv_close((uv_handle_t *)t, drain_timer_closed);
	drain_poll(v);
}

static void drain_end(struct verify *v)
{
	if (v->state == VS_DRAIN) {
		v->drained = v->lag == 0;
		v->lag_before = v->lag;
		if (!v->drained)
			LOG_WARN(MOD,
				 "%s: outbox still holds %" PRIu64
				 " records after %d ms: comparing anyway",
				 v->user_set, v->lag, VERIFY_DRAIN_MS);
		start_digest_local(v, VS_DIGEST_LOCAL);
	} else {
		start_digest_local(v, VS_REDIGEST_LOCAL);
	}
}

static void positions_got(void *arg, int status,
			  const struct store_positions *p)
{
	struct verify *v = arg;
	uv_timer_t *t;

	if (status != 0) {
		verify_fail(v, 503, "unavailable", "store: %s",
			    emsg(p != NULL ? p->errmsg : NULL, status));
		return;
	}
	v->lag = 0;
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->v[i].user_set, v->user_set) == 0)
			v->lag += p->v[i].lag_records;
	if (v->lag == 0 ||
	    uv_now(v->a->loop) - v->drain_ms >= VERIFY_DRAIN_MS) {
		drain_end(v);
		return;
	}
	t = malloc(sizeof *t);
	if (t == NULL) {
		verify_fail(v, 500, "internal", "out of memory");
		return;
	}
	uv_timer_init(v->a->loop, t);
	t->data = v;
	uv_timer_start(t, drain_timer_fired, DRAIN_POLL_MS, 0);
}

static void drain_poll(struct verify *v)
{
	int rv = store_stream_positions(&v->a->data.store, positions_got, v);

	if (rv != 0)
		verify_fail(v, 503, "unavailable", "store: %s",
			    store_strerror(rv));
}

static void start_drain(struct verify *v, int state)
{
	verify_to(v, state);
	v->drain_ms = uv_now(v->a->loop);
	drain_poll(v);
}

/* ---- digests ----------------------------------------------------------- */

static void digest_local_got(void *arg, int status,
			     const struct store_digest *d)
{
	struct verify *v = arg;

	if (status != 0) {
		verify_fail(v, 503, "unavailable", "store: digest: %s",
			    emsg(d != NULL ? d->errmsg : NULL, status));
		return;
	}
	if (v->state == VS_DIGEST_LOCAL) {
		memcpy(v->local, d->buckets, sizeof v->local);
		v->items_local = d->items;
		start_digest_remote(v, VS_DIGEST_REMOTE);
	} else {
		memcpy(v->after_local, d->buckets, sizeof v->after_local);
		start_digest_remote(v, VS_REDIGEST_REMOTE);
	}
}

static void start_digest_local(struct verify *v, int state)
{
	int rv;

	verify_to(v, state);
	rv = store_digest(&v->a->data.store, v->user_set, digest_local_got, v);
	if (rv != 0)
		verify_fail(v, 503, "unavailable", "store: %s",
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
		    h == NULL || !parse_hash(h, &out[i].hash))
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
	struct verify *v = arg;
	struct store_digest_bucket remote[STORE_DIGEST_BUCKETS];
	uint64_t items;

	if (err != 0 || resp->status != 200) {
		pair_error(v, "digest", err, resp);
		return;
	}
	if (parse_digest(resp, v->user_set, remote, &items) != 0) {
		verify_fail(v, 502, "pair_failed",
			    "%s: the digest of %s at %s is malformed",
			    v->user_set, v->backup, v->backup_api);
		return;
	}
	if (v->state == VS_REDIGEST_REMOTE) {
		v->equal_after =
		    memcmp(remote, v->after_local, sizeof remote) == 0;
		verify_finish(v, 200, NULL, NULL);
		return;
	}
	memcpy(v->remote, remote, sizeof remote);
	v->items_remote = items;
	v->n_differing = 0;
	for (unsigned b = 0; b < STORE_DIGEST_BUCKETS; b++)
		if (v->local[b].count != v->remote[b].count ||
		    v->local[b].hash != v->remote[b].hash)
			v->differing[v->n_differing++] = b;
	LOG_INFO(MOD,
		 "%s: %" PRIu64 " items here, %" PRIu64
		 " at %s; %u of %d buckets differ",
		 v->user_set, v->items_local, v->items_remote, v->backup,
		 v->n_differing, STORE_DIGEST_BUCKETS);
	if (v->n_differing == 0) {
		v->equal_after = true;
		verify_finish(v, 200, NULL, NULL);
		return;
	}
	v->bi = 0;
	start_keys_local(v);
}

static void pair_get(struct verify *v, const char *path, hclient_cb cb)
{
	int rv = hclient_request(&v->a->calls, "GET", v->host, v->port, path,
				 NULL, NULL, 0, pair_timeout(v), cb, v, NULL);

	if (rv != 0)
		verify_fail(v, 502, "pair_unreachable",
			    "%s: cannot ask %s at %s: %s", v->user_set,
			    v->backup, v->backup_api, uv_strerror(rv));
}

static void start_digest_remote(struct verify *v, int state)
{
	char path[128 + FSM_NAME_LEN];

	verify_to(v, state);
	snprintf(path, sizeof path, "/v1/internal/digest?user_set=%s",
		 v->user_set);
	pair_get(v, path, digest_remote_got);
}

/* ---- keys of the differing buckets ------------------------------------- */

static int add_diff(struct verify *v, int kind, const char *key, int problem)
{
	struct vdiff *d;

	v->diffs_total++;
	if (v->n_diffs >= VERIFY_DIFF_MAX)
		return 0;
	if (v->n_diffs == v->cap_diffs) {
		size_t ncap = v->cap_diffs ? v->cap_diffs * 2 : 16;
		struct vdiff *nd = realloc(v->diffs, ncap * sizeof *nd);

		if (nd == NULL)
			return -ENOMEM;
		v->diffs = nd;
		v->cap_diffs = ncap;
	}
	d = &v->diffs[v->n_diffs];
	memset(d, 0, sizeof *d);
	d->key = strdup(key);
	if (d->key == NULL)
		return -ENOMEM;
	d->kind = kind;
	d->problem = problem;
	v->n_diffs++;
	return 0;
}

/* Both lists of the current bucket are in: record what differs. */
static int compare_bucket(struct verify *v)
{
	size_t i = 0, j = 0;
	int rv = 0;

	if (v->lk.n > 0) /* v is NULL when empty */
		qsort(v->lk.v, v->lk.n, sizeof *v->lk.v, vkey_qcmp);
	if (v->rk.n > 0)
		qsort(v->rk.v, v->rk.n, sizeof *v->rk.v, vkey_qcmp);
	while (rv == 0 && (i < v->lk.n || j < v->rk.n)) {
		const struct vkey *l = i < v->lk.n ? &v->lk.v[i] : NULL;
		const struct vkey *r = j < v->rk.n ? &v->rk.v[j] : NULL;
		int c = l == NULL ? 1
			: r == NULL
			    ? -1
			    : vkey_cmp(l->kind, l->key, r->kind, r->key);

		if (c < 0) {
			rv = add_diff(v, l->kind, l->key, VP_MISSING_AT_BACKUP);
			i++;
		} else if (c > 0) {
			rv = add_diff(v, r->kind, r->key, VP_ONLY_AT_BACKUP);
			j++;
		} else {
			if (l->hash != r->hash)
				rv = add_diff(v, l->kind, l->key, VP_DIFFERENT);
			i++;
			j++;
		}
	}
	vkeys_clear(&v->lk);
	vkeys_clear(&v->rk);
	return rv;
}

static void keys_local_got(void *arg, int status,
			   const struct store_key_list *l)
{
	struct verify *v = arg;

	if (status != 0) {
		verify_fail(v, 503, "unavailable", "store: keys: %s",
			    emsg(l != NULL ? l->errmsg : NULL, status));
		return;
	}
	if (l->n > KEYS_MAX) {
		verify_fail(v, 507, "too_large",
			    "%s: bucket %u holds %zu items, more than %zu",
			    v->user_set, v->differing[v->bi], l->n, KEYS_MAX);
		return;
	}
	for (size_t i = 0; i < l->n; i++)
		if (vkeys_add(&v->lk, l->v[i].kind, l->v[i].key,
			      strlen(l->v[i].key), l->v[i].hash) != 0) {
			verify_fail(v, 500, "internal", "out of memory");
			return;
		}
	v->roffset = 0;
	start_keys_remote(v);
}

static void start_keys_local(struct verify *v)
{
	int rv;

	verify_to(v, VS_KEYS_LOCAL);
	rv = store_diff_keys(&v->a->data.store, v->user_set,
			     v->differing[v->bi], keys_local_got, v);
	if (rv != 0)
		verify_fail(v, 503, "unavailable", "store: %s",
			    store_strerror(rv));
}

/* Append one page of the pair's keys; *next gets the next offset or 0 when
 * done. Returns 0, -EINVAL (malformed) or -ENOMEM. */
static int parse_keys(struct verify *v, const struct hclient_response *resp,
		      uint64_t *next)
{
	json_t *root = json_loadb(resp->body, resp->body_len, 0, NULL);
	json_t *arr = json_object_get(root, "keys");
	json_t *nx = json_object_get(root, "next");
	json_t *b = json_object_get(root, "bucket");
	int rv = -EINVAL;
	size_t i;
	json_t *e;

	if (!json_is_array(arr) || !json_is_integer(b) ||
	    json_integer_value(b) != (json_int_t)v->differing[v->bi] ||
	    (!json_is_null(nx) && !json_is_integer(nx)))
		goto out;
	*next = 0;
	if (json_is_integer(nx)) {
		if (json_integer_value(nx) <= (json_int_t)v->roffset ||
		    json_array_size(arr) == 0)
			goto out;
		*next = (uint64_t)json_integer_value(nx);
	}
	if (v->rk.n + json_array_size(arr) > KEYS_MAX)
		goto out;
	json_array_foreach (arr, i, e) {
		json_t *k = json_object_get(e, "kind");
		const char *key = json_string_value(json_object_get(e, "key"));
		const char *kb =
		    json_string_value(json_object_get(e, "key_b64"));
		const char *h = json_string_value(json_object_get(e, "hash"));
		uint64_t hash;
		uint8_t *raw = NULL;
		size_t rawlen;
		int r;

		if (!json_is_integer(k) || json_integer_value(k) < 0 ||
		    json_integer_value(k) > KIND_USER || h == NULL ||
		    !parse_hash(h, &hash) || (key == NULL) == (kb == NULL))
			goto out;
		if (key != NULL) {
			r = vkeys_add(&v->rk, (int)json_integer_value(k), key,
				      strlen(key), hash);
		} else {
			if (b64_decode(kb, strlen(kb), &raw, &rawlen) != 0)
				goto out;
			if (rawlen == 0 || memchr(raw, '\0', rawlen) != NULL) {
				free(raw);
				goto out;
			}
			r = vkeys_add(&v->rk, (int)json_integer_value(k),
				      (const char *)raw, rawlen, hash);
			free(raw);
		}
		if (r != 0) {
			rv = r;
			goto out;
		}
	}
	rv = 0;
out:
	json_decref(root);
	return rv;
}

static void keys_remote_got(void *arg, int err,
			    const struct hclient_response *resp)
{
	struct verify *v = arg;
	uint64_t next = 0;
	int rv;

	if (err != 0 || resp->status != 200) {
		pair_error(v, "keys", err, resp);
		return;
	}
	rv = parse_keys(v, resp, &next);
	if (rv == -ENOMEM) {
		verify_fail(v, 500, "internal", "out of memory");
		return;
	}
	if (rv != 0) {
		verify_fail(v, 502, "pair_failed",
			    "%s: the keys of bucket %u at %s (%s) are "
			    "malformed",
			    v->user_set, v->differing[v->bi], v->backup,
			    v->backup_api);
		return;
	}
	if (next != 0 && !past_deadline(v)) {
		v->roffset = next;
		start_keys_remote(v);
		return;
	}
	if (next != 0) { /* out of time: this bucket is not compared */
		vkeys_clear(&v->lk);
		vkeys_clear(&v->rk);
		start_repairs(v);
		return;
	}
	if (compare_bucket(v) != 0) {
		verify_fail(v, 500, "internal", "out of memory");
		return;
	}
	v->bi++;
	if (v->bi < v->n_differing && !past_deadline(v)) {
		start_keys_local(v);
		return;
	}
	start_repairs(v);
}

static void start_keys_remote(struct verify *v)
{
	char path[160 + FSM_NAME_LEN];

	verify_to(v, VS_KEYS_REMOTE);
	snprintf(path, sizeof path,
		 "/v1/internal/keys?user_set=%s&bucket=%u&offset=%" PRIu64,
		 v->user_set, v->differing[v->bi], v->roffset);
	pair_get(v, path, keys_remote_got);
}

/* ---- repairs ----------------------------------------------------------- */

static void start_repairs(struct verify *v)
{
	LOG_INFO(MOD, "%s: %" PRIu64 " differences%s", v->user_set,
		 v->diffs_total,
		 v->repair && v->n_diffs > 0 ? ": repairing" : "");
	v->di = 0;
	if (!v->repair || v->n_diffs == 0 || v->incomplete) {
		/* nothing changed: the comparison is the answer */
		v->equal_after = v->diffs_total == 0 && !v->incomplete;
		verify_finish(v, 200, NULL, NULL);
		return;
	}
	next_repair(v);
}

/* The current difference is settled (d->repaired / d->note set): go on. */
static void repair_done(struct verify *v)
{
	v->di++;
	next_repair(v);
}

static void note(struct verify *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note(struct verify *v, const char *fmt, ...)
{
	struct vdiff *d = &v->diffs[v->di];
	char buf[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	free(d->note);
	d->note = strdup(buf);
	LOG_WARN(MOD, "%s: %s %s not repaired: %s", v->user_set,
		 kind_name(d->kind), d->key, buf);
}

/* Fill v->rec for the current difference (value copied into vbuf). */
static int set_record(struct verify *v, int op, const void *value, size_t len,
		      uint64_t offset, uint64_t total, uint64_t seq,
		      uint64_t hlc)
{
	const struct vdiff *d = &v->diffs[v->di];

	free(v->vbuf);
	v->vbuf = malloc(len > 0 ? len : 1);
	if (v->vbuf == NULL)
		return -ENOMEM;
	if (len > 0)
		memcpy(v->vbuf, value, len);
	snprintf(v->vkey, sizeof v->vkey, "%s", d->key);
	poolpair__repl__change_record__init(&v->rec);
	v->rec.user_set = v->user_set;
	v->rec.epoch = v->epoch;
	v->rec.seq = seq;
	v->rec.hlc = hlc;
	v->rec.op = (Poolpair__Repl__Op)op;
	v->rec.kind = (Poolpair__Repl__Kind)d->kind;
	v->rec.key = v->vkey;
	v->rec.value.data = v->vbuf;
	v->rec.value.len = len;
	v->rec.offset = offset;
	v->rec.total = total;
	v->rec.lane = d->kind == KIND_CONTENT
			  ? POOLPAIR__REPL__LANE__LANE_CONTENT
			  : POOLPAIR__REPL__LANE__LANE_DATA;
	return 0;
}

static void send_delete(struct verify *v)
{
	if (set_record(v, POOLPAIR__REPL__OP__OP_DELETE, NULL, 0, 0, 0, 0,
		       dataplane_hlc(&v->a->data)) != 0) {
		verify_fail(v, 500, "internal", "out of memory");
		return;
	}
	send_record(v);
}

/* A user record the owner does not have at all goes from the backup
 * (only with remove_users: a failback, where it is archived). */
static void send_purge(struct verify *v)
{
	if (set_record(v, POOLPAIR__REPL__OP__OP_PURGE_USER, NULL, 0, 0, 0, 0,
		       dataplane_hlc(&v->a->data)) != 0) {
		verify_fail(v, 500, "internal", "out of memory");
		return;
	}
	send_record(v);
}

static void item_got(void *arg, int status, const struct store_item *it)
{
	struct verify *v = arg;
	struct vdiff *d = &v->diffs[v->di];

	if (status == STORE_E_NOT_FOUND) {
		/* removed at the owner since it was listed */
		if (d->kind == KIND_USER) {
			note(v, "the user record is gone at the owner");
			repair_done(v);
			return;
		}
		send_delete(v);
		return;
	}
	if (status != 0) {
		note(v, "reading it at the owner failed: %s",
		     emsg(it != NULL ? it->errmsg : NULL, status));
		repair_done(v);
		return;
	}
	v->user_enabled = it->enabled;
	if (set_record(v, POOLPAIR__REPL__OP__OP_PUT, it->value, it->value_len,
		       0, 0, it->seq, it->hlc) != 0) {
		verify_fail(v, 500, "internal", "out of memory");
		return;
	}
	send_record(v);
}

static void piece_got(void *arg, int status,
		      const struct store_content_piece *p)
{
	struct verify *v = arg;
	struct vdiff *d = &v->diffs[v->di];

	if (status == STORE_E_NOT_FOUND && v->coff == 0) {
		send_delete(v);
		return;
	}
	if (status != 0) {
		note(v, "reading its content at the owner failed: %s",
		     emsg(p != NULL ? p->errmsg : NULL, status));
		repair_done(v);
		return;
	}
	if (v->coff > 0 && (p->total != v->ctotal || p->offset != v->coff)) {
		note(v, "the item changed at the owner while it was copied");
		repair_done(v);
		return;
	}
	v->ctotal = p->total;
	v->cstored = p->stored;
	if (p->len == 0) {
		if (v->coff > 0) { /* every stored byte went over */
			d->repaired = true;
			v->n_repaired++;
			repair_done(v);
		} else if (p->total == 0) {
			if (set_record(v, POOLPAIR__REPL__OP__OP_CONTENT_CHUNK,
				       NULL, 0, 0, 0, 0,
				       dataplane_hlc(&v->a->data)) != 0) {
				verify_fail(v, 500, "internal",
					    "out of memory");
				return;
			}
			send_record(v);
		} else {
			note(v,
			     "the owner holds none of its %" PRIu64
			     " bytes yet",
			     p->total);
			repair_done(v);
		}
		return;
	}
	if (set_record(v, POOLPAIR__REPL__OP__OP_CONTENT_CHUNK, p->data, p->len,
		       p->offset, p->total, 0,
		       dataplane_hlc(&v->a->data)) != 0) {
		verify_fail(v, 500, "internal", "out of memory");
		return;
	}
	send_record(v);
}

/* Read (the next piece of) the owner's item of the current difference. */
static void read_item(struct verify *v)
{
	struct vdiff *d = &v->diffs[v->di];
	int rv;

	verify_to(v, VS_REPAIR_READ);
	if (d->kind != KIND_CONTENT) {
		rv = store_get(&v->a->data.store, v->user_set, d->kind, d->key,
			       item_got, v);
	} else {
		/* "<sip>/<conf_id>/<name>" */
		char sip[STORE_KEY_MAX + 1], conf[STORE_KEY_MAX + 1];
		const char *s1 = strchr(d->key, '/');
		const char *s2 = s1 != NULL ? strchr(s1 + 1, '/') : NULL;

		if (s2 == NULL) {
			note(v, "not a content key");
			repair_done(v);
			return;
		}
		snprintf(sip, sizeof sip, "%.*s", (int)(s1 - d->key), d->key);
		snprintf(conf, sizeof conf, "%.*s", (int)(s2 - s1 - 1), s1 + 1);
		rv = store_content_read(&v->a->data.store, v->user_set, sip,
					conf, s2 + 1, v->coff,
					STORE_CONTENT_CHUNK, piece_got, v);
	}
	if (rv != 0)
		verify_fail(v, 503, "unavailable", "store: %s",
			    store_strerror(rv));
}

static void next_repair(struct verify *v)
{
	struct vdiff *d;

	if (v->di >= v->n_diffs || past_deadline(v)) {
		if (v->attempted)
			start_drain(v, VS_REDRAIN);
		else
			verify_finish(v, 200, NULL, NULL);
		return;
	}
	d = &v->diffs[v->di];
	v->step = 0;
	v->coff = 0;
	v->ctotal = v->cstored = 0;
	if (d->problem == VP_ONLY_AT_BACKUP) {
		if (d->kind == KIND_USER && !v->remove_users) {
			note(v, "a user record is never removed by a repair "
				"(unless remove_users=true): the owner does not "
				"know this user");
			repair_done(v);
			return;
		}
		if (d->kind == KIND_USER)
			send_purge(v);
		else
			send_delete(v);
		return;
	}
	read_item(v);
}

static void repair_sent(void *arg, int err, const struct hclient_response *resp)
{
	struct verify *v = arg;
	struct vdiff *d = &v->diffs[v->di];

	if (err != 0) {
		/* the pair is gone: nothing further can be repaired */
		pair_error(v, "repair", err, resp);
		return;
	}
	if (resp->status != 200) {
		json_t *root = json_loadb(resp->body, resp->body_len, 0, NULL);
		const char *m =
		    json_string_value(json_object_get(root, "message"));

		note(v, "%s refused the repair (%d): %s", v->backup,
		     resp->status, m != NULL ? m : "no message");
		json_decref(root);
		repair_done(v);
		return;
	}
	if (v->rec.op == POOLPAIR__REPL__OP__OP_CONTENT_CHUNK &&
	    v->rec.value.len > 0) {
		v->coff += v->rec.value.len;
		if (v->coff < v->cstored) {
			read_item(v);
			return;
		}
	} else if (d->kind == KIND_USER && v->step == 0 &&
		   v->rec.op == POOLPAIR__REPL__OP__OP_PUT &&
		   !v->user_enabled) {
		v->step = 1; /* the owner's record is disabled */
		send_delete(v);
		return;
	}
	d->repaired = true;
	v->n_repaired++;
	repair_done(v);
}

static void send_record(struct verify *v)
{
	size_t packed_len =
	    poolpair__repl__change_record__get_packed_size(&v->rec);
	uint8_t *packed = malloc(packed_len > 0 ? packed_len : 1);
	char *body = NULL;
	size_t body_len = 0;
	const char *ctype;
	int rv;

	verify_to(v, VS_REPAIR_SEND);
	if (packed == NULL) {
		verify_fail(v, 500, "internal", "out of memory");
		return;
	}
	poolpair__repl__change_record__pack(&v->rec, packed);
	if ((packed_len + 2) / 3 * 4 <= BODY_B64_MAX) {
		body = b64_encode(packed, packed_len, &body_len);
		free(packed);
		if (body == NULL) {
			verify_fail(v, 500, "internal", "out of memory");
			return;
		}
		ctype = "Content-Type: text/plain\r\n";
	} else if (packed_len <= BODY_RAW_MAX) {
		body = (char *)packed;
		body_len = packed_len;
		ctype = "Content-Type: application/x-protobuf\r\n";
	} else {
		free(packed);
		note(v, "the item (%zu bytes) is too large to send as a repair",
		     v->rec.value.len);
		repair_done(v);
		return;
	}
	v->attempted = true;
	rv = hclient_request(&v->a->calls, "POST", v->host, v->port,
			     "/v1/internal/repair", ctype, body, body_len,
			     pair_timeout(v), repair_sent, v, NULL);
	free(body);
	if (rv != 0)
		verify_fail(v, 502, "pair_unreachable",
			    "%s: cannot send a repair to %s at %s: %s",
			    v->user_set, v->backup, v->backup_api,
			    uv_strerror(rv));
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

static void verify_start(struct agent *a, struct http_request *req,
			 const char *pool)
{
	const struct fsm_pool *p, *o;
	struct verify *v;
	char url[FSM_ADDR_LEN + 16];
	bool repair = true, remove_users = false;

	if (!bool_param(req, "repair", &repair) ||
	    !bool_param(req, "remove_users", &remove_users))
		return;
	if (!users_ready(a, req))
		return;
	p = name_ok(pool) ? fsm_pool_find(&a->fsm, pool) : NULL;
	if (p == NULL &&
	    (a->fsm.n_pools == 0 || node_leader(&a->node, NULL) == 0)) {
		http_respond_error(req, 503, "unavailable",
				   "the cluster state is still loading: retry");
		return;
	}
	if (p == NULL) {
		char msg[128];

		snprintf(msg, sizeof msg, "pool %.64s is not defined", pool);
		http_respond_error(req, 404, "not_found", msg);
		return;
	}
	o = fsm_pool_find(&a->fsm, p->owner);
	if (p->pair[0] == '\0' || o == NULL || o->pair[0] == '\0') {
		char msg[160];

		snprintf(msg, sizeof msg,
			 "pool %s is not paired: there is no backup copy to "
			 "compare",
			 p->name);
		http_respond_error(req, 409, "not_paired", msg);
		return;
	}
	if (strcmp(p->owner, a->cfg.pool) != 0) {
		char msg[256];

		snprintf(msg, sizeof msg,
			 "the user set of %s is owned by %s: verify there",
			 p->name, p->owner);
		answer_json(req, 421,
			json_pack("{s:s, s:s, s:s, s:s}", "error", "not_owner",
				  "message", msg, "owner", p->owner,
				  "owner_api", pool_api(a, p->owner)));
		return;
	}
	v = calloc(1, sizeof *v);
	if (v == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	v->a = a;
	v->req = req;
	v->state = VS_INIT;
	v->repair = repair;
	v->remove_users = remove_users;
	v->epoch = p->epoch;
	v->start_ms = uv_now(a->loop);
	snprintf(v->user_set, sizeof v->user_set, "%s", p->name);
	snprintf(v->owner, sizeof v->owner, "%s", p->owner);
	snprintf(v->backup, sizeof v->backup, "%s", o->pair);
	snprintf(v->backup_api, sizeof v->backup_api, "%s",
		 pool_api(a, o->pair));
	snprintf(url, sizeof url, "http://%s", v->backup_api);
	if (v->backup_api[0] == '\0' ||
	    hclient_parse_url(url, v->host, sizeof v->host, &v->port, NULL,
			      0) != 0) {
		verify_fail(v, 503, "unavailable",
			    "no API address of an agent of %s is known",
			    v->backup);
		return;
	}
	LOG_INFO(MOD,
		 "%s: verify against %s at %s (owner epoch %" PRIu64
		 ", repair %s)",
		 v->user_set, v->backup, v->backup_api, v->epoch,
		 repair ? "on" : "off");
	start_drain(v, VS_DRAIN);
}

/* ---- GET /v1/internal/digest ------------------------------------------- */

/* user_set from the query into out; answers 400 and returns false when
 * absent or malformed. */
static bool query_user_set(struct http_request *req, char *out, size_t len)
{
	if (http_query_param(req, "user_set", out, len) != 0 || !name_ok(out)) {
		http_respond_error(req, 400, "invalid",
				   "user_set must be a pool name (1-63 of "
				   "A-Z a-z 0-9 . _ -)");
		return false;
	}
	return true;
}

static void digest_answer(void *arg, int status, const struct store_digest *d)
{
	struct http_request *req = arg;
	json_t *arr;
	char hex[17];

	if (status != 0) {
		answer_store_error(req, status, d != NULL ? d->errmsg : NULL);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < STORE_DIGEST_BUCKETS; i++) {
		snprintf(hex, sizeof hex, "%016" PRIx64, d->buckets[i].hash);
		if (json_array_append_new(
			arr, json_pack("{s:I, s:s}", "count",
				       (json_int_t)d->buckets[i].count, "hash",
				       hex)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	answer_json(req, 200,
		arr == NULL
		    ? NULL
		    : json_pack("{s:s, s:I, s:o}", "user_set", d->user_set,
				"items", (json_int_t)d->items, "buckets", arr));
}

static void internal_digest(struct agent *a, struct http_request *req)
{
	char us[FSM_NAME_LEN + 1];
	int rv;

	if (!query_user_set(req, us, sizeof us) || !users_ready(a, req))
		return;
	rv = store_digest(&a->data.store, us, digest_answer, req);
	if (rv != 0)
		answer_store_error(req, rv, NULL);
}

/* ---- GET /v1/internal/keys --------------------------------------------- */

struct keys_req {
	struct http_request *req;
	char user_set[FSM_NAME_LEN + 1];
	unsigned bucket;
	uint64_t offset;
};

static int key_hash_qcmp(const void *x, const void *y)
{
	const struct store_key_hash *a =
	    *(const struct store_key_hash *const *)x;
	const struct store_key_hash *b =
	    *(const struct store_key_hash *const *)y;

	return vkey_cmp(a->kind, a->key, b->kind, b->key);
}

static void keys_answer(void *arg, int status, const struct store_key_list *l)
{
	struct keys_req *kr = arg;
	struct http_request *req = kr->req;
	const struct store_key_hash **sorted = NULL;
	json_t *arr = NULL, *next;
	size_t bytes = 0, i;
	char hex[17];

	if (status != 0) {
		answer_store_error(req, status, l != NULL ? l->errmsg : NULL);
		goto out;
	}
	sorted = malloc((l->n > 0 ? l->n : 1) * sizeof *sorted);
	arr = json_array();
	if (sorted == NULL || arr == NULL)
		goto nomem;
	for (i = 0; i < l->n; i++)
		sorted[i] = &l->v[i];
	qsort(sorted, l->n, sizeof *sorted, key_hash_qcmp);
	for (i = kr->offset; i < l->n && bytes < VERIFY_PAGE_BYTES; i++) {
		json_t *o;

		snprintf(hex, sizeof hex, "%016" PRIx64, sorted[i]->hash);
		o = json_pack("{s:i, s:s}", "kind", sorted[i]->kind, "hash",
			      hex);
		if (o == NULL || json_set_key(o, sorted[i]->key) != 0 ||
		    json_array_append_new(arr, o) != 0)
			goto nomem;
		/* worst case of a key in JSON: \u escapes or base64 */
		bytes += 6 * strlen(sorted[i]->key) + 64;
	}
	next = i < l->n ? json_integer((json_int_t)i) : json_null();
	answer_json(req, 200,
		json_pack("{s:s, s:I, s:I, s:I, s:o, s:o}", "user_set",
			  kr->user_set, "bucket", (json_int_t)kr->bucket,
			  "total", (json_int_t)l->n, "offset",
			  (json_int_t)kr->offset, "keys", arr, "next", next));
	goto out;
nomem:
	json_decref(arr);
	http_respond_error(req, 500, "internal", "out of memory");
out:
	free(sorted);
	free(kr);
}

static void internal_keys(struct agent *a, struct http_request *req)
{
	char us[FSM_NAME_LEN + 1], buf[32];
	uint64_t bucket, offset = 0;
	struct keys_req *kr;
	int rv;

	if (!query_user_set(req, us, sizeof us))
		return;
	if (http_query_param(req, "bucket", buf, sizeof buf) != 0 ||
	    !parse_u64(buf, STORE_DIGEST_BUCKETS - 1, &bucket)) {
		http_respond_error(req, 400, "invalid",
				   "bucket must be an integer from 0 to 63");
		return;
	}
	rv = http_query_param(req, "offset", buf, sizeof buf);
	if ((rv != 0 && rv != UV_ENOENT) ||
	    (rv == 0 && !parse_u64(buf, KEYS_MAX, &offset))) {
		http_respond_error(req, 400, "invalid",
				   "offset must be a non-negative integer");
		return;
	}
	if (!users_ready(a, req))
		return;
	kr = calloc(1, sizeof *kr);
	if (kr == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	kr->req = req;
	snprintf(kr->user_set, sizeof kr->user_set, "%s", us);
	kr->bucket = (unsigned)bucket;
	kr->offset = offset;
	rv = store_diff_keys(&a->data.store, us, kr->bucket, keys_answer, kr);
	if (rv != 0) {
		free(kr);
		answer_store_error(req, rv, NULL);
	}
}

/* ---- POST /v1/internal/repair ------------------------------------------ */

struct repair_req {
	struct http_request *req;
	char user_set[FSM_NAME_LEN];
	int kind, op;
	char key[STORE_KEY_MAX + 1];
};

static void repair_applied(void *arg, int status, const char *errmsg)
{
	struct repair_req *rr = arg;

	if (status != 0) {
		LOG_WARN(MOD, "%s: repair of %s %s refused: %s", rr->user_set,
			 kind_name(rr->kind), rr->key,
			 errmsg != NULL && errmsg[0] ? errmsg
						     : store_strerror(status));
		answer_store_error(rr->req, status, errmsg);
		free(rr);
		return;
	}
	LOG_INFO(MOD, "%s: repaired %s %s (%s)", rr->user_set,
		 kind_name(rr->kind), rr->key, op_name(rr->op));
	{
		json_t *o = json_pack("{s:s, s:s, s:s}", "user_set",
				      rr->user_set, "kind", kind_name(rr->kind),
				      "op", op_name(rr->op));

		if (o != NULL && json_set_key(o, rr->key) != 0) {
			json_decref(o);
			o = NULL;
		}
		answer_json(rr->req, 200, o);
	}
	free(rr);
}

static void internal_repair(struct agent *a, struct http_request *req)
{
	const char *ct = http_request_header(req, "Content-Type");
	Poolpair__Repl__ChangeRecord *rec;
	const struct fsm_pool *p, *o;
	struct repair_req *rr;
	uint8_t *raw = NULL;
	size_t rawlen;
	int rv;

	if (!users_ready(a, req))
		return;
	if (ct != NULL && strncmp(ct, "application/x-protobuf", 22) == 0) {
		rec = poolpair__repl__change_record__unpack(
		    NULL, req->body_len, (const uint8_t *)req->body);
	} else {
		if (b64_decode(req->body, req->body_len, &raw, &rawlen) != 0) {
			http_respond_error(req, 400, "bad_body",
					   "the body is not base64 of a "
					   "change record");
			return;
		}
		rec = poolpair__repl__change_record__unpack(NULL, rawlen, raw);
		free(raw);
	}
	if (rec == NULL) {
		http_respond_error(req, 400, "bad_body",
				   "the body is not a change record");
		return;
	}
	p = name_ok(rec->user_set) ? fsm_pool_find(&a->fsm, rec->user_set)
				   : NULL;
	if (p == NULL) {
		http_respond_error(req, 404, "not_found",
				   "the record's user set is not a known pool");
		goto out;
	}
	o = fsm_pool_find(&a->fsm, p->owner);
	if (a->cfg.pool[0] == '\0' || strcmp(p->owner, a->cfg.pool) == 0 ||
	    o == NULL || strcmp(o->pair, a->cfg.pool) != 0) {
		char msg[256];

		snprintf(msg, sizeof msg,
			 "this agent does not hold the backup copy of %s "
			 "(owner %s)",
			 p->name, p->owner);
		http_respond_error(req, 409, "not_backup", msg);
		goto out;
	}
	rr = calloc(1, sizeof *rr);
	if (rr == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		goto out;
	}
	rr->req = req;
	rr->kind = rec->kind;
	rr->op = rec->op;
	snprintf(rr->user_set, sizeof rr->user_set, "%s", p->name);
	snprintf(rr->key, sizeof rr->key, "%s",
		 rec->key != NULL ? rec->key : "");
	rv = store_repair(&a->data.store, rec, repair_applied, rr);
	if (rv != 0) {
		free(rr);
		answer_store_error(req, rv,
			    rv == STORE_E_INVALID ? "malformed change record"
						  : NULL);
	}
out:
	poolpair__repl__change_record__free_unpacked(rec, NULL);
}

/* ---- the handlers of the route table (routes.c) -------------------------- */

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

void verify_route_digest(void *module, struct http_request *req,
			 const struct route_params *p)
{
	internal_digest(module, req);
}

void verify_route_keys(void *module, struct http_request *req,
		       const struct route_params *p)
{
	internal_keys(module, req);
}

void verify_route_repair(void *module, struct http_request *req,
			 const struct route_params *p)
{
	internal_repair(module, req);
}
