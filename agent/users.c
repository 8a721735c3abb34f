/* users: data-plane routes (see users.h). */
#include "agent/users.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/answer.h"
#include "agent/api.h"
#include "agent/backup.h"
#include "agent/content.h"
#include "agent/log.h"
#include "agent/verify.h"
#include "agent/view.h"

#define MOD "users"
#define SIP_MAX 255
#define VALUE_MAX ((size_t)1 << 20)

enum uop_what {
	UOP_ENABLE,
	UOP_DISABLE,
	UOP_PUT, /* profile, contacts, settings, conference */
	UOP_GET,
	UOP_LOCATE,
};

struct uop {
	struct agent *a;
	struct http_request *req;
	int what; /* enum uop_what */
	int kind; /* POOLPAIR__REPL__KIND__KIND_* */
	char sip[SIP_MAX + 1];
	char conf[FSM_NAME_LEN * 2];
	char key[STORE_KEY_MAX + 1];
	char home[FSM_NAME_LEN];
	void *value; /* owned copy of the body */
	size_t value_len;
	uint64_t epoch, seq; /* where the write was stored */
	struct ubatch *batch; /* NULL, or the batch this item belongs to */
	size_t idx;	      /* its index in the batch */
};

/* POST /v1/users/batch: many user-data writes in one request, each its
 * own store write (own epoch/seq, all or nothing per item); answered once
 * every item has its outcome. */
struct ubatch {
	struct agent *a;
	struct http_request *req;
	json_t *results; /* array, one entry per item (null until known) */
	size_t pending;	 /* items without an outcome yet */
	size_t ok, failed;
};

static void batch_item_done(struct ubatch *b, size_t idx, json_t *res,
			    bool ok);
static bool ready(struct agent *a, struct http_request *req);

bool users_sip_valid(const char *sip)
{
	const char *at, *p;
	size_t n = strlen(sip);

	if (n < 7 || n > SIP_MAX || strncmp(sip, "sip:", 4) != 0)
		return false;
	at = strchr(sip + 4, '@');
	if (at == NULL || at == sip + 4 || at[1] == '\0' ||
	    strchr(at + 1, '@') != NULL)
		return false;
	for (p = sip + 4; *p != '\0'; p++) {
		char c = *p;

		if (p == at)
			continue;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '+' || c == '~' || c == '-'))
			return false;
	}
	return true;
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
	default:
		return "user";
	}
}

static int kind_parse(const char *s)
{
	if (strcmp(s, "profile") == 0)
		return POOLPAIR__REPL__KIND__KIND_PROFILE;
	if (strcmp(s, "contacts") == 0)
		return POOLPAIR__REPL__KIND__KIND_CONTACTS;
	if (strcmp(s, "settings") == 0)
		return POOLPAIR__REPL__KIND__KIND_SETTINGS;
	return -1;
}

static void uop_free(struct uop *op)
{
	free(op->value);
	free(op);
}

/* The write of op failed: answer it (a batch item: record its outcome)
 * and free op. */
static void uop_fail(struct uop *op, int http, const char *code,
		     const char *msg)
{
	if (op->batch != NULL)
		batch_item_done(
		    op->batch, op->idx,
		    json_pack("{s:s, s:s, s:i, s:s, s:s}", "sip", op->sip,
			      "kind", kind_name(op->kind), "status", http,
			      "error", code, "message", msg),
		    false);
	else
		http_respond_error(op->req, http, code, msg);
	uop_free(op);
}

static void uop_store_fail(struct uop *op, int status, const char *errmsg)
{
	char msg[320];
	const char *code;
	int http = answer_store_describe(status, errmsg, &code, msg, sizeof msg);

	uop_fail(op, http, code, msg);
}

static void uop_not_owner(struct uop *op, const struct fsm_pool *p)
{
	char msg[256];

	if (op->batch == NULL) {
		answer_not_owner(op->req, &op->a->fsm, p);
		uop_free(op);
		return;
	}
	answer_not_owner_message(p, msg, sizeof msg);
	batch_item_done(op->batch, op->idx,
			json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s}", "sip",
				  op->sip, "kind", kind_name(op->kind),
				  "status", 421, "error", "not_owner",
				  "message", msg, "owner", p->owner,
				  "owner_api", answer_owner_api(&op->a->fsm, p->owner)),
			false);
	uop_free(op);
}

/* ---- writes ---- */

/* Answer a durable write; replicated: the pair acknowledged it. */
static void answer_write(struct uop *op, bool replicated)
{
	json_t *body;
	int status = 200;

	if (op->batch != NULL) {
		batch_item_done(
		    op->batch, op->idx,
		    json_pack("{s:s, s:s, s:i, s:I, s:I, s:b}", "sip", op->sip,
			      "kind", kind_name(op->kind), "status", 200,
			      "epoch", (json_int_t)op->epoch, "seq",
			      (json_int_t)op->seq, "replicated", replicated),
		    true);
		uop_free(op);
		return;
	}
	switch (op->what) {
	case UOP_ENABLE:
		status = 201;
		body =
		    json_pack("{s:s, s:s}", "sip", op->sip, "pool", op->home);
		break;
	case UOP_DISABLE:
		body = json_pack("{s:s}", "sip", op->sip);
		break;
	default:
		if (op->kind == POOLPAIR__REPL__KIND__KIND_CONFERENCE)
			body = json_pack("{s:s, s:s}", "sip", op->sip,
					 "conference", op->conf);
		else
			body = json_pack("{s:s, s:s}", "sip", op->sip, "kind",
					 kind_name(op->kind));
		break;
	}
	if (body != NULL) {
		json_object_set_new(body, "epoch",
				    json_integer((json_int_t)op->epoch));
		json_object_set_new(body, "seq",
				    json_integer((json_int_t)op->seq));
		json_object_set_new(body, "replicated",
				    json_boolean(replicated));
	}
	answer_json(op->req, status, body);
	uop_free(op);
}

static void released(void *arg, bool replicated)
{
	answer_write(arg, replicated);
}

static void written(void *arg, int status, const struct store_write_result *r)
{
	struct uop *op = arg;
	struct agent *a = op->a;

	if (status != 0) {
		a->data.writes_refused++;
		uop_store_fail(op, status, r != NULL ? r->errmsg : NULL);
		return;
	}
	a->data.writes_ok++;
	op->epoch = r->epoch;
	op->seq = r->seq;
	dataplane_note_write(&a->data, op->home, r->lane, r->seq, r->bytes);
	agent_data_written(a);
	/* sync mode: answer once the pair has it */
	if (dataplane_after_write(&a->data, op->home, r->lane, r->seq, released,
				  op) == 1)
		return;
	answer_write(op, false);
}

/* The user set of `home` is known: check ownership and write. */
static void write_at_home(struct uop *op)
{
	struct agent *a = op->a;
	const struct fsm_pool *p = fsm_pool_find(&a->fsm, op->home);
	struct store_write w;
	int rv;

	if (p == NULL &&
	    (a->fsm.n_pools == 0 || node_leader(&a->node, NULL) == 0)) {
		/* a restarted agent replays the log: until it has, it cannot
		 * tell an unknown pool from one it has not seen yet */
		uop_fail(op, 503, "unavailable",
			 "the cluster state is still loading: retry");
		return;
	}
	if (p == NULL) {
		char msg[128];

		snprintf(msg, sizeof msg, "pool %s is not defined", op->home);
		uop_fail(op, 404, "not_found", msg);
		return;
	}
	{
		char why[256];
		int code = dataplane_may_write(&a->data, p, why, sizeof why);

		if (code == DATAPLANE_E_NOT_OWNER) {
			uop_not_owner(op, p);
			return;
		}
		if (code != 0) {
			uop_fail(op, answer_write_status(code), "unavailable",
				 why);
			return;
		}
	}
	memset(&w, 0, sizeof w);
	w.user_set = p->name;
	w.epoch = p->epoch;
	w.hlc = dataplane_hlc(&a->data);
	w.kind = op->kind;
	w.key = op->key;
	w.op = op->what == UOP_DISABLE ? POOLPAIR__REPL__OP__OP_DELETE
				       : POOLPAIR__REPL__OP__OP_PUT;
	w.value = op->value;
	w.value_len = op->value_len;
	rv = store_write(&a->data.store, &w, written, op);
	if (rv != 0)
		uop_store_fail(op, rv, NULL);
}

/* ---- reads ---- */

static void got_item(void *arg, int status, const struct store_item *it)
{
	struct uop *op = arg;
	struct agent *a = op->a;
	const struct fsm_pool *p;
	json_t *value;
	bool own;

	if (status != 0) {
		answer_store_error(op->req, status, it != NULL ? it->errmsg : NULL);
		uop_free(op);
		return;
	}
	p = fsm_pool_find(&a->fsm, it->user_set);
	own = p != NULL && strcmp(p->owner, a->cfg.pool) == 0;
	value = json_loadb((const char *)it->value, it->value_len,
			   JSON_DECODE_ANY, NULL);
	if (value == NULL)
		value = json_stringn((const char *)it->value, it->value_len);
	if (op->kind == POOLPAIR__REPL__KIND__KIND_CONFERENCE)
		answer_json(op->req, 200,
			json_pack("{s:s, s:s, s:o, s:I, s:I, s:s}", "sip",
				  op->sip, "conference", op->conf, "value",
				  value, "epoch", (json_int_t)it->epoch, "seq",
				  (json_int_t)it->seq, "copy",
				  own ? "own" : "backup"));
	else
		answer_json(op->req, 200,
			json_pack("{s:s, s:s, s:o, s:I, s:I, s:s}", "sip",
				  op->sip, "kind", kind_name(op->kind), "value",
				  value, "epoch", (json_int_t)it->epoch, "seq",
				  (json_int_t)it->seq, "copy",
				  own ? "own" : "backup"));
	uop_free(op);
}

static void located(void *arg, int status, const struct store_item *it)
{
	struct uop *op = arg;
	struct agent *a = op->a;
	const struct fsm_pool *p;
	int rv;

	if (status == STORE_E_NOT_FOUND) {
		char msg[SIP_MAX + 32];

		snprintf(msg, sizeof msg, "no user %s", op->sip);
		uop_fail(op, 404, "not_found", msg);
		return;
	}
	if (status != 0) {
		uop_store_fail(op, status, it != NULL ? it->errmsg : NULL);
		return;
	}
	snprintf(op->home, sizeof op->home, "%.*s", (int)it->value_len,
		 (const char *)it->value);
	if (op->home[0] == '\0')
		snprintf(op->home, sizeof op->home, "%s", it->user_set);
	switch (op->what) {
	case UOP_LOCATE:
		p = fsm_pool_find(&a->fsm, op->home);
		answer_json(
		    op->req, 200,
		    json_pack("{s:s, s:s, s:b, s:s, s:s, s:I}", "sip", op->sip,
			      "home_pool", op->home, "enabled", it->enabled,
			      "owner", p != NULL ? p->owner : "", "owner_api",
			      p != NULL ? answer_owner_api(&a->fsm, p->owner) : "", "epoch",
			      (json_int_t)(p != NULL ? p->epoch : 0)));
		uop_free(op);
		return;
	case UOP_GET:
		if (op->kind == POOLPAIR__REPL__KIND__KIND_CONFERENCE)
			rv = store_get_conference(&a->data.store, it->user_set,
						  op->sip, op->conf, got_item,
						  op);
		else
			rv = store_get_user_data(&a->data.store, it->user_set,
						 op->sip, op->kind, got_item,
						 op);
		if (rv != 0) {
			answer_store_error(op->req, rv, NULL);
			uop_free(op);
		}
		return;
	default:
		if (!it->enabled && op->what == UOP_PUT) {
			char msg[SIP_MAX + 32];

			snprintf(msg, sizeof msg, "user %s is disabled",
				 op->sip);
			uop_fail(op, 404, "not_found", msg);
			return;
		}
		write_at_home(op);
		return;
	}
}

/* ---- request parsing ---- */

static struct uop *uop_new(struct agent *a, struct http_request *req, int what,
			   const char *sip)
{
	struct uop *op;

	if (!users_sip_valid(sip)) {
		char msg[64];

		snprintf(msg, sizeof msg,
			 "not a valid SIP URI (sip:user@host, at most %d "
			 "characters)",
			 SIP_MAX);
		http_respond_error(req, 400, "invalid", msg);
		return NULL;
	}
	op = calloc(1, sizeof *op);
	if (op == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return NULL;
	}
	op->a = a;
	op->req = req;
	op->what = what;
	op->kind = POOLPAIR__REPL__KIND__KIND_USER;
	snprintf(op->sip, sizeof op->sip, "%s", sip);
	snprintf(op->key, sizeof op->key, "%s", sip);
	return op;
}

/* Take a JSON body as the value. */
static bool take_value(struct uop *op)
{
	json_error_t jerr;
	json_t *v;

	if (op->req->body_len > VALUE_MAX) {
		http_respond_error(op->req, 413, "too_large",
				   "a value is at most 1 MiB");
		return false;
	}
	v = json_loadb(op->req->body, op->req->body_len,
		       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (v == NULL) {
		char msg[256];

		snprintf(msg, sizeof msg, "the value is not JSON: %s (line %d)",
			 jerr.text, jerr.line);
		http_respond_error(op->req, 400, "bad_json", msg);
		return false;
	}
	json_decref(v);
	op->value = malloc(op->req->body_len > 0 ? op->req->body_len : 1);
	if (op->value == NULL) {
		http_respond_error(op->req, 500, "internal", "out of memory");
		return false;
	}
	memcpy(op->value, op->req->body, op->req->body_len);
	op->value_len = op->req->body_len;
	return true;
}

static void lookup(struct uop *op)
{
	int rv = store_user_location(&op->a->data.store, op->sip, located, op);

	if (rv != 0)
		uop_store_fail(op, rv, NULL);
}

/* ---- batch of user-data writes ---- */

#define BATCH_MAX 1000

static void batch_item_done(struct ubatch *b, size_t idx, json_t *res,
			    bool ok)
{
	if (res == NULL)
		res = json_pack("{s:i, s:s, s:s}", "status", 500, "error",
				"internal", "message", "out of memory");
	json_array_set_new(b->results, idx, res);
	if (ok)
		b->ok++;
	else
		b->failed++;
	if (--b->pending > 0)
		return;
	answer_json(b->req, 200,
		json_pack("{s:o, s:I, s:I}", "results", b->results, "ok",
			  (json_int_t)b->ok, "failed", (json_int_t)b->failed));
	free(b);
}

/* One item of a batch body: {"sip", "kind", "value"}. Returns the kind,
 * or -1 with msg set. */
static int batch_item_check(json_t *item, size_t i, const char **sip,
			    json_t **value, char *msg, size_t len)
{
	json_error_t jerr;
	const char *kind = NULL;
	int k;

	if (json_unpack_ex(item, &jerr, JSON_STRICT, "{s:s, s:s, s:o}", "sip",
			   sip, "kind", &kind, "value", value) != 0) {
		snprintf(msg, len, "items[%zu]: %s", i, jerr.text);
		return -1;
	}
	if (!users_sip_valid(*sip)) {
		snprintf(msg, len,
			 "items[%zu]: not a valid SIP URI (sip:user@host, at "
			 "most %d characters)",
			 i, SIP_MAX);
		return -1;
	}
	k = kind_parse(kind);
	if (k < 0) {
		snprintf(msg, len,
			 "items[%zu]: kind must be profile, contacts or "
			 "settings",
			 i);
		return -1;
	}
	return k;
}

static void batch_write(struct agent *a, struct http_request *req)
{
	json_error_t jerr;
	json_t *root, *items, *item;
	struct ubatch *b;
	struct uop **ops;
	char msg[320];
	size_t n, i;

	if (!ready(a, req))
		return;
	root =
	    json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || json_unpack_ex(root, &jerr, JSON_STRICT, "{s:o}",
					   "items", &items) != 0 ||
	    !json_is_array(items)) {
		json_decref(root);
		http_respond_error(req, 400, "bad_json",
				   "body must be {\"items\": [{\"sip\", "
				   "\"kind\", \"value\"}, ...]}");
		return;
	}
	n = json_array_size(items);
	if (n == 0 || n > BATCH_MAX) {
		json_decref(root);
		snprintf(msg, sizeof msg, "a batch holds 1..%d items",
			 BATCH_MAX);
		http_respond_error(req, 400, "invalid", msg);
		return;
	}
	/* every item is checked before anything is written */
	b = calloc(1, sizeof *b);
	ops = calloc(n, sizeof *ops);
	if (b != NULL)
		b->results = json_array();
	if (b == NULL || ops == NULL || b->results == NULL)
		goto nomem;
	json_array_foreach(items, i, item)
	{
		const char *sip;
		json_t *value;
		int kind = batch_item_check(item, i, &sip, &value, msg,
					    sizeof msg);
		struct uop *op;

		if (kind < 0) {
			http_respond_error(req, 400, "invalid", msg);
			goto err;
		}
		if (json_array_append_new(b->results, json_null()) != 0)
			goto nomem;
		op = calloc(1, sizeof *op);
		if (op == NULL)
			goto nomem;
		ops[i] = op;
		op->a = a;
		op->req = req;
		op->what = UOP_PUT;
		op->kind = kind;
		op->batch = b;
		op->idx = i;
		snprintf(op->sip, sizeof op->sip, "%s", sip);
		snprintf(op->key, sizeof op->key, "%s", sip);
		op->value = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
		if (op->value == NULL)
			goto nomem;
		op->value_len = strlen(op->value);
	}
	json_decref(root);
	b->a = a;
	b->req = req;
	b->pending = n;
	/* from here on every item ends in batch_item_done, which answers
	 * once the last one has */
	for (i = 0; i < n; i++)
		lookup(ops[i]);
	free(ops);
	return;
nomem:
	http_respond_error(req, 500, "internal", "out of memory");
err:
	for (i = 0; ops != NULL && i < n; i++)
		if (ops[i] != NULL)
			uop_free(ops[i]);
	free(ops);
	if (b != NULL)
		json_decref(b->results);
	free(b);
	json_decref(root);
}

static void enable(struct agent *a, struct http_request *req)
{
	json_error_t jerr;
	json_t *root;
	const char *sip = NULL, *pool = NULL;
	struct uop *op;

	root =
	    json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		http_respond_error(
		    req, 400, "bad_json",
		    "body must be {\"sip\": ..., \"pool\": ...}");
		return;
	}
	if (json_unpack_ex(root, &jerr, JSON_STRICT, "{s:s, s:s}", "sip", &sip,
			   "pool", &pool) != 0) {
		char msg[256];

		snprintf(msg, sizeof msg, "body: %s", jerr.text);
		json_decref(root);
		http_respond_error(req, 400, "bad_json", msg);
		return;
	}
	op = uop_new(a, req, UOP_ENABLE, sip);
	if (op == NULL) {
		json_decref(root);
		return;
	}
	snprintf(op->home, sizeof op->home, "%s", pool);
	op->value_len = strlen(pool);
	op->value = strdup(pool);
	json_decref(root);
	if (op->value == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		uop_free(op);
		return;
	}
	write_at_home(op);
}

static void divergence_listed(void *arg, int status,
			      const struct store_divergence_list *l)
{
	struct http_request *req = arg;
	json_t *arr;
	char when[40];

	if (status != 0) {
		answer_store_error(req, status, l != NULL ? l->errmsg : NULL);
		return;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < l->n; i++) {
		const struct store_divergence *d = &l->v[i];

		view_time_iso((uint64_t)d->archived_at_ms, when, sizeof when);
		json_array_append_new(
		    arr,
		    json_pack("{s:I, s:s, s:I, s:I, s:s, s:s%, s:s, s:s}", "id",
			      (json_int_t)d->id, "user_set", d->user_set,
			      "epoch", (json_int_t)d->epoch, "seq",
			      (json_int_t)d->seq, "key", d->key, "value",
			      (const char *)d->value, d->value_len, "archived",
			      when, "reason", d->reason));
	}
	answer_json(req, 200, json_pack("{s:o}", "divergence", arr));
}

/* ---- backup sync: flush and wait until the pair has everything ---- */

struct bsync {
	struct bsync *next;
	struct agent *a;
	struct http_request *req;
	char user_set[FSM_NAME_LEN];
	uv_timer_t timer;
	uint64_t start_ns;
	uint64_t deadline_ns;
};

/* Records of user_set not yet acknowledged by the pair; *streams set to
 * the number of its streams. */
static uint64_t user_set_lag(struct dataplane *dp, const char *user_set,
			     unsigned *streams)
{
	size_t n = dp->sender != NULL ? sender_stream_count(dp->sender) : 0;
	uint64_t lag = 0;

	*streams = 0;
	for (size_t i = 0; i < n; i++) {
		struct sender_stats st;

		if (dataplane_stream_stats(dp, i, &st) != 0 ||
		    strcmp(st.user_set, user_set) != 0)
			continue;
		(*streams)++;
		lag += st.lag_records;
	}
	return lag;
}

static void bsync_closed(uv_handle_t *h)
{
	struct bsync *b = h->data;
	struct agent *a = b->a;
	struct bsync **pp;

	for (pp = &a->data.bsyncs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	free(b);
	a->pending_closes--;
	agent_closed_one(a);
}

static void bsync_end(struct bsync *b)
{
	uv_timer_stop(&b->timer);
	uv_close((uv_handle_t *)&b->timer, bsync_closed);
}

void users_close(struct agent *a)
{
	for (struct bsync *b = a->data.bsyncs; b != NULL; b = b->next) {
		if (uv_is_closing((uv_handle_t *)&b->timer))
			continue;
		http_respond_error(b->req, 503, "unavailable",
				   "the agent is shutting down");
		bsync_end(b);
	}
}

static void bsync_tick(uv_timer_t *t)
{
	struct bsync *b = t->data;
	unsigned streams;
	uint64_t lag = user_set_lag(&b->a->data, b->user_set, &streams);
	uint64_t now = uv_hrtime();

	if (lag == 0 && streams > 0) {
		answer_json(b->req, 200,
			json_pack("{s:s, s:I, s:I}", "user_set", b->user_set,
				  "lag_records", (json_int_t)0, "waited_ms",
				  (json_int_t)((now - b->start_ns) / 1000000)));
	} else if (now >= b->deadline_ns) {
		char msg[128];

		snprintf(msg, sizeof msg,
			 "%" PRIu64 " records of %s still not acknowledged by "
			 "the pair",
			 lag, b->user_set);
		answer_json(b->req, 504,
			json_pack("{s:s, s:s, s:I}", "error", "timeout",
				  "message", msg, "lag_records",
				  (json_int_t)lag));
	} else {
		return;
	}
	bsync_end(b);
}

static void backup_sync(struct agent *a, struct http_request *req,
			const char *pool_name)
{
	const struct fsm_pool *p = fsm_pool_find(&a->fsm, pool_name);
	char buf[16];
	unsigned long timeout_s = 30;
	bool wait = true;
	struct bsync *b;
	unsigned streams;
	uint64_t lag;

	if (http_query_param(req, "timeout", buf, sizeof buf) == 0) {
		char *end;

		errno = 0;
		timeout_s = strtoul(buf, &end, 10);
		if (errno || *end || buf[0] == '-' || timeout_s == 0 ||
		    timeout_s > 600) {
			http_respond_error(req, 400, "invalid",
					   "timeout must be 1..600 seconds");
			return;
		}
	}
	if (http_query_param(req, "wait", buf, sizeof buf) == 0) {
		if (strcmp(buf, "false") == 0)
			wait = false;
		else if (strcmp(buf, "true") != 0) {
			http_respond_error(req, 400, "invalid",
					   "wait must be true or false");
			return;
		}
	}
	if (p == NULL) {
		http_respond_error(req, 404, "not_found", "no such pool");
		return;
	}
	if (p->pair[0] == '\0') {
		http_respond_error(req, 409, "not_paired",
				   "the pool has no pair to back it up");
		return;
	}
	if (strcmp(p->owner, a->cfg.pool) != 0) {
		answer_not_owner(req, &a->fsm, p);
		return;
	}
	if (!ready(a, req))
		return;
	dataplane_written(&a->data); /* flush: wake the sender */
	lag = user_set_lag(&a->data, p->name, &streams);
	if (!wait || (lag == 0 && streams > 0)) {
		answer_json(req, 200,
			json_pack("{s:s, s:I, s:I}", "user_set", p->name,
				  "lag_records", (json_int_t)lag, "waited_ms",
				  (json_int_t)0));
		return;
	}
	b = calloc(1, sizeof *b);
	if (b == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	b->a = a;
	b->req = req;
	snprintf(b->user_set, sizeof b->user_set, "%s", p->name);
	b->start_ns = uv_hrtime();
	b->deadline_ns = b->start_ns + (uint64_t)timeout_s * 1000000000ULL;
	uv_timer_init(a->loop, &b->timer);
	b->timer.data = b;
	b->next = a->data.bsyncs;
	a->data.bsyncs = b;
	a->pending_closes++;
	uv_timer_start(&b->timer, bsync_tick, 20, 20);
}

static bool ready(struct agent *a, struct http_request *req)
{
	if (dataplane_ready(&a->data))
		return true;
	if (a->data.state == DP_NONE)
		http_respond_error(req, 503, "no_store",
				   "this agent holds no user data (a witness): "
				   "ask an agent of a pool");
	else
		http_respond_error(req, 503, "unavailable",
				   a->data.errmsg[0] ? a->data.errmsg
						     : "the store is opening");
	return false;
}

/* ---- CMS documents: a user set of their own ("cms"), written at the
 * agent of the pool hosting the active CMS ---- */

struct cms_op {
	struct agent *a;
	struct http_request *req;
	char name[FSM_NAME_LEN];
	uint64_t epoch, seq;
};

static void cms_answer(struct cms_op *op, bool replicated)
{
	answer_json(op->req, 200,
		json_pack("{s:s, s:I, s:I, s:b}", "name", op->name, "epoch",
			  (json_int_t)op->epoch, "seq", (json_int_t)op->seq,
			  "replicated", replicated));
	free(op);
}

static void cms_released(void *arg, bool replicated)
{
	cms_answer(arg, replicated);
}

static void cms_written(void *arg, int status,
			const struct store_write_result *r)
{
	struct cms_op *op = arg;
	struct agent *a = op->a;

	if (status != 0) {
		a->data.writes_refused++;
		answer_store_error(op->req, status, r != NULL ? r->errmsg : NULL);
		free(op);
		return;
	}
	a->data.writes_ok++;
	op->epoch = r->epoch;
	op->seq = r->seq;
	dataplane_note_write(&a->data, DATAPLANE_CMS, r->lane, r->seq,
			     r->bytes);
	agent_data_written(a);
	if (dataplane_after_write(&a->data, DATAPLANE_CMS, r->lane, r->seq,
				  cms_released, op) == 1)
		return;
	cms_answer(op, false);
}

static void cms_got(void *arg, int status, const struct store_item *it)
{
	struct cms_op *op = arg;
	struct agent *a = op->a;
	json_t *value;

	if (status != 0) {
		answer_store_error(op->req, status, it != NULL ? it->errmsg : NULL);
		free(op);
		return;
	}
	value = json_loadb((const char *)it->value, it->value_len,
			   JSON_DECODE_ANY, NULL);
	if (value == NULL)
		value = json_stringn((const char *)it->value, it->value_len);
	answer_json(op->req, 200,
		json_pack("{s:s, s:o, s:I, s:I, s:s}", "name", op->name,
			  "value", value, "epoch", (json_int_t)it->epoch, "seq",
			  (json_int_t)it->seq, "copy",
			  strcmp(a->fsm.cms_active, a->cfg.pool) == 0
			      ? "active"
			      : "standby"));
	free(op);
}

static void cms_document(struct agent *a, struct http_request *req,
			 const char *name)
{
	bool get = req->method_id == HTTP_METHOD_GET; /* else PUT (routes.c) */
	struct cms_op *op;
	const char *p;
	int rv;

	if (name[0] == '\0' || strlen(name) >= FSM_NAME_LEN) {
		http_respond_error(req, 400, "invalid",
				   "a document name is 1..63 characters of "
				   "[A-Za-z0-9._-]");
		return;
	}
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		      *p == '-')) {
			http_respond_error(req, 400, "invalid",
					   "a document name is 1..63 characters "
					   "of [A-Za-z0-9._-]");
			return;
		}
	if (!ready(a, req))
		return;
	op = calloc(1, sizeof *op);
	if (op == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	op->a = a;
	op->req = req;
	snprintf(op->name, sizeof op->name, "%s", name);
	if (get) {
		rv = store_get(&a->data.store, DATAPLANE_CMS,
			       POOLPAIR__REPL__KIND__KIND_CMS, name, cms_got, op);
	} else {
		char why[256];
		int code = dataplane_may_write_cms(&a->data, why, sizeof why);
		json_error_t jerr;
		json_t *v;
		struct store_write w;

		if (code == DATAPLANE_E_NOT_OWNER) {
			answer_json(req, answer_write_status(code),
				json_pack("{s:s, s:s, s:s, s:s}", "error",
					  "not_owner", "message", why, "owner",
					  a->fsm.cms_active, "owner_api",
					  answer_owner_api(&a->fsm, a->fsm.cms_active)));
			free(op);
			return;
		}
		if (code != 0) {
			http_respond_error(req, answer_write_status(code),
					   "unavailable", why);
			free(op);
			return;
		}
		if (req->body_len > VALUE_MAX) {
			http_respond_error(req, 413, "too_large",
					   "a document is at most 1 MiB");
			free(op);
			return;
		}
		v = json_loadb(req->body, req->body_len,
			       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
		if (v == NULL) {
			char msg[256];

			snprintf(msg, sizeof msg, "the document is not JSON: %s",
				 jerr.text);
			http_respond_error(req, 400, "bad_json", msg);
			free(op);
			return;
		}
		json_decref(v);
		memset(&w, 0, sizeof w);
		w.user_set = DATAPLANE_CMS;
		w.epoch = a->fsm.cms_epoch;
		w.hlc = dataplane_hlc(&a->data);
		w.op = POOLPAIR__REPL__OP__OP_PUT;
		w.kind = POOLPAIR__REPL__KIND__KIND_CMS;
		w.key = op->name;
		w.value = req->body;
		w.value_len = req->body_len;
		rv = store_write(&a->data.store, &w, cms_written, op);
	}
	if (rv != 0) {
		answer_store_error(req, rv, NULL);
		free(op);
	}
}

/* ---- takeover (agent to agent, asked by the leader) ---- */

static void taken_over(void *arg, int status, uint64_t data_seq,
		       uint64_t content_seq)
{
	struct http_request *req = arg;
	struct agent *a = req->data;

	if (status != 0) {
		answer_store_error(req, status, NULL);
		return;
	}
	LOG_INFO(MOD, "takeover position: data %" PRIu64 ", content %" PRIu64,
		 data_seq, content_seq);
	answer_json(req, 200,
		json_pack("{s:I, s:I, s:s}", "data_seq", (json_int_t)data_seq,
			  "content_seq", (json_int_t)content_seq, "pool",
			  a->cfg.pool));
}

static void takeover_call(struct agent *a, struct http_request *req)
{
	json_error_t jerr;
	json_t *root;
	const char *user_set = NULL;
	int rv;

	root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES,
			  &jerr);
	if (root == NULL || json_unpack_ex(root, &jerr, JSON_STRICT, "{s:s}",
					   "user_set", &user_set) != 0) {
		json_decref(root);
		http_respond_error(req, 400, "bad_json",
				   "body must be {\"user_set\": POOL}");
		return;
	}
	if (!ready(a, req)) {
		json_decref(root);
		return;
	}
	rv = dataplane_takeover(&a->data, user_set, taken_over, req);
	json_decref(root);
	if (rv == STORE_E_INVALID)
		http_respond_error(req, 409, "not_pair",
				   "this agent's pool is not the pair of that "
				   "user set");
	else if (rv != 0)
		answer_store_error(req, rv, NULL);
}

/* ---- the handlers of the route table (routes.c) ---- */

void users_route_divergence(void *module, struct http_request *req,
			    const struct route_params *p)
{
	struct agent *a = module;
	char buf[16];
	unsigned long limit = 100;

	if (http_query_param(req, "limit", buf, sizeof buf) == 0) {
		char *end;

		errno = 0;
		limit = strtoul(buf, &end, 10);
		if (errno || *end || buf[0] == '-' || limit == 0 ||
		    limit > 10000) {
			http_respond_error(req, 400, "invalid",
					   "limit must be 1..10000");
			return;
		}
	}
	if (!ready(a, req))
		return;
	if (store_divergence_list(&a->data.store, 0, limit, divergence_listed,
				  req) != 0)
		http_respond_error(req, 503, "unavailable", "store closing");
}

void users_route_cms_document(void *module, struct http_request *req,
			      const struct route_params *p)
{
	cms_document(module, req, route_param(p, "name"));
}

void users_route_takeover(void *module, struct http_request *req,
			  const struct route_params *p)
{
	takeover_call(module, req);
}

void users_route_backup(void *module, struct http_request *req,
			const struct route_params *p)
{
	struct agent *a = module;

	answer_json(req, 200,
		    json_pack("{s:o, s:o, s:s, s:I, s:I}", "backup",
			      backup_local(&a->data), "received",
			      dataplane_receiver_status(&a->data), "mode",
			      dataplane_sync_name(&a->data), "sync_timeout_ms",
			      (json_int_t)a->data.sync_timeout_ms,
			      "sync_fallbacks",
			      (json_int_t)a->data.sync_fallbacks));
}

void users_route_backup_sync(void *module, struct http_request *req,
			     const struct route_params *p)
{
	const char *pool = route_param(p, "pool");

	if (strlen(pool) >= FSM_NAME_LEN) {
		http_respond_error(req, 404, "not_found", "no such path");
		return;
	}
	backup_sync(module, req, pool);
}

void users_route_enable(void *module, struct http_request *req,
			const struct route_params *p)
{
	if (!ready(module, req))
		return;
	enable(module, req);
}

void users_route_batch(void *module, struct http_request *req,
		       const struct route_params *p)
{
	batch_write(module, req);
}

/* The {sip} of p into sip (SIP_MAX + 2 bytes); false when too long (then
 * req is answered 400). */
static bool sip_param(const struct route_params *p, struct http_request *req,
		      char *sip)
{
	const char *v = route_param(p, "sip");

	if (strlen(v) > SIP_MAX) {
		http_respond_error(req, 400, "invalid", "SIP URI too long");
		return false;
	}
	snprintf(sip, SIP_MAX + 2, "%s", v);
	return true;
}

void users_route_disable(void *module, struct http_request *req,
			 const struct route_params *p)
{
	char sip[SIP_MAX + 2];
	struct uop *op;

	if (!sip_param(p, req, sip) || !ready(module, req) ||
	    (op = uop_new(module, req, UOP_DISABLE, sip)) == NULL)
		return;
	lookup(op);
}

void users_route_locate(void *module, struct http_request *req,
			const struct route_params *p)
{
	char sip[SIP_MAX + 2];
	struct uop *op;

	if (!sip_param(p, req, sip) || !ready(module, req) ||
	    (op = uop_new(module, req, UOP_LOCATE, sip)) == NULL)
		return;
	lookup(op);
}

void users_route_conference(void *module, struct http_request *req,
			    const struct route_params *p)
{
	bool put = req->method_id == HTTP_METHOD_PUT;
	const char *conf = route_param(p, "id");
	char sip[SIP_MAX + 2];
	struct uop *op;

	if (!sip_param(p, req, sip))
		return;
	if (strlen(conf) >= FSM_NAME_LEN * 2 - 1) {
		http_respond_error(req, 404, "not_found", "no such path");
		return;
	}
	if (!ready(module, req) ||
	    (op = uop_new(module, req, put ? UOP_PUT : UOP_GET, sip)) == NULL)
		return;
	op->kind = POOLPAIR__REPL__KIND__KIND_CONFERENCE;
	snprintf(op->conf, sizeof op->conf, "%s", conf);
	if (store_key_conference(op->key, sizeof op->key, sip, conf) != 0) {
		http_respond_error(req, 400, "invalid", "bad conference id");
		uop_free(op);
		return;
	}
	if (put && !take_value(op)) {
		uop_free(op);
		return;
	}
	lookup(op);
}

void users_route_data(void *module, struct http_request *req,
		      const struct route_params *p)
{
	bool put = req->method_id == HTTP_METHOD_PUT;
	int kind = kind_parse(route_param(p, "kind"));
	char sip[SIP_MAX + 2];
	struct uop *op;

	if (!sip_param(p, req, sip))
		return;
	if (kind < 0) {
		/* kind is profile, contacts or settings: nothing else is
		 * here */
		http_respond_error(req, 404, "not_found", "no such path");
		return;
	}
	if (!ready(module, req) ||
	    (op = uop_new(module, req, put ? UOP_PUT : UOP_GET, sip)) == NULL)
		return;
	op->kind = kind;
	if (put && !take_value(op)) {
		uop_free(op);
		return;
	}
	lookup(op);
}

bool users_ready(struct agent *a, struct http_request *req)
{
	return ready(a, req);
}
