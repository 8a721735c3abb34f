/* users: users, their data and conferences, one write or a batch;
 * locations; the takeover asked by the leader (see users.h). */
#include "agent/users.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/answer.h"
#include "agent/log.h"
#include "agent/users_internal.h"

#define MOD "users"

enum uop_what {
	UOP_ENABLE,
	UOP_DISABLE,
	UOP_PUT, /* profile, contacts, settings, conference */
	UOP_GET,
	UOP_LOCATE,
};

struct uop {
	struct users *u;
	struct http_request *req;
	int what; /* enum uop_what */
	int kind; /* POOLPAIR__REPL__KIND__KIND_* */
	char sip[USERS_SIP_MAX + 1];
	char conf[FSM_NAME_LEN * 2];
	char key[STORE_KEY_MAX + 1];
	char home[FSM_NAME_LEN];
	void *value; /* owned copy of the body, or borrowed: value_borrowed */
	size_t value_len;
	bool value_borrowed;  /* value points into req's body (a batch) */
	uint64_t epoch, seq;  /* where the write was stored */
	struct ubatch *batch; /* NULL, or the batch this item belongs to */
	size_t idx;	      /* its index in the batch */
};

/* POST /v1/users/batch: many user-data writes in one request, each its
 * own store write (own epoch/seq, all or nothing per item); answered once
 * every item has its outcome. */
struct ubatch {
	struct users *u;
	struct http_request *req;
	char **results; /* n, each item's answer as JSON text (owned; NULL
			   until known) */
	size_t n;
	size_t pending; /* items without an outcome yet */
	size_t ok, failed;
	bool oom; /* an item's outcome could not be kept: answer 500 */
};

static void batch_item_done(struct ubatch *b, size_t idx, json_t *res, bool ok);
static void batch_item_written(struct uop *op, bool replicated);

static struct dataplane *users_dp(void *module)
{
	return ((struct users *)module)->deps.data;
}

int users_init(struct users *u, const struct users_deps *deps)
{
	memset(u, 0, sizeof *u);
	u->deps = *deps;
	snprintf(u->pool, sizeof u->pool, "%s", deps->pool);
	u->deps.pool = u->pool;
	return 0;
}

void users_closed_one(struct users *u)
{
	users_close_cb cb = u->close_cb;

	if (--u->closes > 0)
		return;
	u->close_cb = NULL;
	if (cb != NULL)
		cb(u);
}

void users_close(struct users *u, users_close_cb cb)
{
	if (u->closing)
		return;
	u->closing = true;
	u->close_cb = cb;
	u->closes++; /* this call's own */
	backup_sync_close(u);
	users_closed_one(u);
}

bool users_ready(const struct dataplane *dp, struct http_request *req)
{
	const struct fsm_member *w;

	/* a standby keeps no copy: the writer answers */
	if (dp->state != DP_NONE && dataplane_writer(dp, &w) < 0) {
		answer_not_writer(req, dp->pool, w, dataplane_api_scheme(dp));
		return false;
	}
	if (dataplane_ready(dp))
		return true;
	if (dp->state == DP_NONE)
		http_respond_error(req, 503, "no_store",
				   "this agent holds no user data (a witness): "
				   "ask an agent of a pool");
	else
		http_respond_error(req, 503, "unavailable",
				   dp->errmsg[0] ? dp->errmsg
						 : "the store is opening");
	return false;
}

bool users_ready_read(const struct dataplane *dp, struct http_request *req)
{
	/* a standby with a copy answers reads from it */
	if (dataplane_standby_copy(dp))
		return true;
	return users_ready(dp, req);
}

const char *users_copy_name(const struct dataplane *dp, const struct fsm *f,
			    const char *user_set)
{
	const struct fsm_pool *p;

	if (dataplane_writer(dp, NULL) < 0)
		return "standby";
	p = fsm_pool_find(f, user_set);
	return p != NULL && strcmp(p->owner, dp->pool) == 0 ? "own" : "backup";
}

bool users_copy_refused(const struct dataplane *dp, const char *user_set,
			struct http_request *req)
{
	const struct fsm_member *w;

	if (dataplane_writer(dp, &w) >= 0 || dataplane_pool_owns(dp, user_set))
		return false;
	/* a standby keeps a copy of what its pool owns only */
	answer_not_writer(req, dp->pool, w, dataplane_api_scheme(dp));
	return true;
}

bool users_sip_valid(const char *sip)
{
	const char *at, *p;
	size_t n = strlen(sip);

	if (n < 7 || n > USERS_SIP_MAX || strncmp(sip, "sip:", 4) != 0)
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

int users_kind_parse(const char *s, size_t n)
{
	static const struct {
		const char *name;
		int kind;
	} kinds[] = {
	    {"profile", POOLPAIR__REPL__KIND__KIND_PROFILE},
	    {"contacts", POOLPAIR__REPL__KIND__KIND_CONTACTS},
	    {"settings", POOLPAIR__REPL__KIND__KIND_SETTINGS},
	};

	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (n == strlen(kinds[i].name) &&
		    memcmp(s, kinds[i].name, n) == 0)
			return kinds[i].kind;
	return -1;
}

static void uop_free(struct uop *op)
{
	if (!op->value_borrowed)
		free(op->value);
	free(op);
}

/* The write of op failed: answer it (a batch item: record its outcome)
 * and free op. */
static void uop_fail(struct uop *op, int http, const char *code,
		     const char *msg)
{
	if (op->batch != NULL)
		batch_item_done(op->batch, op->idx,
				json_pack("{s:s, s:s, s:i, s:s, s:s}", "sip",
					  op->sip, "kind",
					  store_kind_name(op->kind), "status",
					  http, "error", code, "message", msg),
				false);
	else
		http_respond_error(op->req, http, code, msg);
	uop_free(op);
}

static void uop_store_fail(struct uop *op, int status, const char *errmsg)
{
	char msg[320];
	const char *code;
	int http =
	    answer_store_describe(status, errmsg, &code, msg, sizeof msg);

	uop_fail(op, http, code, msg);
}

static void uop_not_owner(struct uop *op, const struct fsm_pool *p)
{
	char msg[256];

	if (op->batch == NULL) {
		answer_not_owner(op->req, op->u->deps.fsm, p);
		uop_free(op);
		return;
	}
	answer_not_owner_message(p, msg, sizeof msg);
	batch_item_done(
	    op->batch, op->idx,
	    json_pack("{s:s, s:s, s:i, s:s, s:s, s:s, s:s}", "sip", op->sip,
		      "kind", store_kind_name(op->kind), "status", 421, "error",
		      "not_owner", "message", msg, "owner", p->owner,
		      "owner_api", answer_owner_api(op->u->deps.fsm, p->owner)),
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
		batch_item_written(op, replicated);
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
					 store_kind_name(op->kind));
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

/* The wait is over: a success unless this agent stopped being the writer
 * (or closes) before the acknowledgement (dataplane.h). */
static void released(void *arg, enum dataplane_release how)
{
	if (how == DP_RELEASE_FAILED)
		uop_fail(arg, ANSWER_NOT_DURABLE_STATUS,
			 ANSWER_NOT_DURABLE_CODE, ANSWER_NOT_DURABLE_MESSAGE);
	else
		answer_write(arg, how == DP_RELEASE_REPLICATED);
}

static void written(void *arg, int status, const struct store_write_result *r)
{
	struct uop *op = arg;
	struct dataplane *dp = op->u->deps.data;

	dataplane_write_done(dp, op->home, status, r);
	if (status != 0) {
		uop_store_fail(op, status, r != NULL ? r->errmsg : NULL);
		return;
	}
	op->epoch = r->epoch;
	op->seq = r->seq;
	/* sync mode: answer once the pair has it */
	if (dataplane_after_write(dp, op->home, r->lane, r->seq, released,
				  op) == 1)
		return;
	answer_write(op, false);
}

/* The user set of `home` is known: check ownership and write. */
static void write_at_home(struct uop *op)
{
	struct users *u = op->u;
	const struct fsm_pool *p = fsm_pool_find(u->deps.fsm, op->home);
	struct store_write w;
	int rv;

	if (p == NULL && (u->deps.fsm->n_pools == 0 ||
			  proposer_leader(u->deps.proposer, NULL) == 0)) {
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
		int code =
		    dataplane_may_write(u->deps.data, p, why, sizeof why);

		if (code == DATAPLANE_E_NOT_OWNER) {
			uop_not_owner(op, p);
			return;
		}
		if (code != 0) {
			uop_fail(op, answer_write_status(code),
				 answer_write_code(code), why);
			return;
		}
	}
	memset(&w, 0, sizeof w);
	w.user_set = p->name;
	w.epoch = p->epoch;
	w.hlc = dataplane_hlc(u->deps.data);
	w.kind = op->kind;
	w.key = op->key;
	w.op = op->what == UOP_DISABLE ? POOLPAIR__REPL__OP__OP_DELETE
				       : POOLPAIR__REPL__OP__OP_PUT;
	w.value = op->value;
	w.value_len = op->value_len;
	rv = store_write(&u->deps.data->store, &w, written, op);
	if (rv != 0)
		uop_store_fail(op, rv, NULL);
}

/* ---- reads ---- */

static void got_item(void *arg, int status, const struct store_item *it)
{
	struct uop *op = arg;
	struct users *u = op->u;
	const char *copy;
	json_t *value;

	if (status != 0) {
		answer_store_error(op->req, status,
				   it != NULL ? it->errmsg : NULL);
		uop_free(op);
		return;
	}
	copy = users_copy_name(u->deps.data, u->deps.fsm, it->user_set);
	value = json_loadb((const char *)it->value, it->value_len,
			   JSON_DECODE_ANY, NULL);
	if (value == NULL)
		value = json_stringn((const char *)it->value, it->value_len);
	if (op->kind == POOLPAIR__REPL__KIND__KIND_CONFERENCE)
		answer_json(op->req, 200,
			    json_pack("{s:s, s:s, s:o, s:I, s:I, s:s}", "sip",
				      op->sip, "conference", op->conf, "value",
				      value, "epoch", (json_int_t)it->epoch,
				      "seq", (json_int_t)it->seq, "copy",
				      copy));
	else
		answer_json(op->req, 200,
			    json_pack("{s:s, s:s, s:o, s:I, s:I, s:s}", "sip",
				      op->sip, "kind",
				      store_kind_name(op->kind), "value", value,
				      "epoch", (json_int_t)it->epoch, "seq",
				      (json_int_t)it->seq, "copy", copy));
	uop_free(op);
}

static void located(void *arg, int status, const struct store_item *it)
{
	struct uop *op = arg;
	struct users *u = op->u;
	const struct fsm_pool *p;
	int rv;

	if (status == STORE_E_NOT_FOUND) {
		char msg[USERS_SIP_MAX + 32];

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
		p = fsm_pool_find(u->deps.fsm, op->home);
		answer_json(
		    op->req, 200,
		    json_pack("{s:s, s:s, s:b, s:s, s:s, s:I}", "sip", op->sip,
			      "home_pool", op->home, "enabled", it->enabled,
			      "owner", p != NULL ? p->owner : "", "owner_api",
			      p != NULL
				  ? answer_owner_api(u->deps.fsm, p->owner)
				  : "",
			      "epoch", (json_int_t)(p != NULL ? p->epoch : 0)));
		uop_free(op);
		return;
	case UOP_GET:
		if (users_copy_refused(u->deps.data, it->user_set, op->req)) {
			uop_free(op);
			return;
		}
		if (op->kind == POOLPAIR__REPL__KIND__KIND_CONFERENCE)
			rv = store_get_conference(&u->deps.data->store,
						  it->user_set, op->sip,
						  op->conf, got_item, op);
		else
			rv = store_get_user_data(&u->deps.data->store,
						 it->user_set, op->sip,
						 op->kind, got_item, op);
		if (rv != 0) {
			answer_store_error(op->req, rv, NULL);
			uop_free(op);
		}
		return;
	default:
		if (!it->enabled && op->what == UOP_PUT) {
			char msg[USERS_SIP_MAX + 32];

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

static struct uop *uop_new(struct users *u, struct http_request *req, int what,
			   const char *sip)
{
	struct uop *op;

	if (!users_sip_valid(sip)) {
		char msg[64];

		snprintf(msg, sizeof msg,
			 "not a valid SIP URI (sip:user@host, at most %d "
			 "characters)",
			 USERS_SIP_MAX);
		http_respond_error(req, 400, "invalid", msg);
		return NULL;
	}
	op = calloc(1, sizeof *op);
	if (op == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return NULL;
	}
	op->u = u;
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

	if (op->req->body_len > USERS_VALUE_MAX) {
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
	int rv =
	    store_user_location(&op->u->deps.data->store, op->sip, located, op);

	if (rv != 0)
		uop_store_fail(op, rv, NULL);
}

/* ---- batch of user-data writes ---- */

static void batch_free(struct ubatch *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->results[i]);
	free(b->results);
	free(b);
}

/* The last item has its outcome: answer {"results": [...], "ok",
 * "failed"}, the texts joined without building them again. */
static void batch_answer(struct ubatch *b)
{
	size_t len = 64, at;
	char *body;
	size_t i;

	for (i = 0; i < b->n; i++)
		len += strlen(b->results[i]) + 1;
	body = malloc(len);
	if (body == NULL) {
		http_respond_error(b->req, 500, "internal",
				   "out of memory rendering the answer");
		batch_free(b);
		return;
	}
	at = (size_t)snprintf(body, len, "{\"results\":[");
	for (i = 0; i < b->n; i++) {
		size_t l = strlen(b->results[i]);

		if (i > 0)
			body[at++] = ',';
		memcpy(body + at, b->results[i], l);
		at += l;
	}
	snprintf(body + at, len - at, "],\"ok\":%zu,\"failed\":%zu}", b->ok,
		 b->failed);
	http_respond_json(b->req, 200, body, NULL);
	free(body);
	batch_free(b);
}

static void batch_item_text(struct ubatch *b, size_t idx, char *text, bool ok)
{
	static const char oom[] = "{\"status\":500,\"error\":\"internal\","
				  "\"message\":\"out of memory\"}";

	if (text == NULL) {
		text = strdup(oom);
		ok = false;
	}
	if (text == NULL) {
		/* nothing to say it with: the whole answer is a 500 */
		b->oom = true;
	}
	b->results[idx] = text;
	if (ok)
		b->ok++;
	else
		b->failed++;
	if (--b->pending > 0)
		return;
	if (b->oom) {
		http_respond_error(b->req, 500, "internal", "out of memory");
		batch_free(b);
		return;
	}
	batch_answer(b);
}

static void batch_item_done(struct ubatch *b, size_t idx, json_t *res, bool ok)
{
	char *text = res != NULL
			 ? json_dumps(res, JSON_COMPACT | JSON_ENSURE_ASCII)
			 : NULL;

	json_decref(res);
	batch_item_text(b, idx, text, ok);
}

/* A batch item written: its answer as text straight away (its sip is a
 * valid SIP URI, its kind a name: nothing to escape). */
static void batch_item_written(struct uop *op, bool replicated)
{
	char buf[USERS_SIP_MAX + 160];
	int n = snprintf(buf, sizeof buf,
			 "{\"sip\":\"%s\",\"kind\":\"%s\",\"status\":200,"
			 "\"epoch\":%" PRIu64 ",\"seq\":%" PRIu64
			 ",\"replicated\":%s}",
			 op->sip, store_kind_name(op->kind), op->epoch, op->seq,
			 replicated ? "true" : "false");

	batch_item_text(op->batch, op->idx,
			n > 0 && (size_t)n < sizeof buf ? strdup(buf) : NULL,
			true);
}

static struct ubatch *batch_new(struct users *u, struct http_request *req,
				size_t n, struct uop ***ops)
{
	struct ubatch *b = calloc(1, sizeof *b);

	*ops = calloc(n, sizeof **ops);
	if (b != NULL)
		b->results = calloc(n, sizeof *b->results);
	if (b == NULL || *ops == NULL || b->results == NULL) {
		if (b != NULL)
			free(b->results);
		free(b);
		free(*ops);
		return NULL;
	}
	b->n = n;
	b->u = u;
	b->req = req;
	b->pending = n;
	return b;
}

/* Item i of batch b as an op (value still to set), or NULL. */
static struct uop *batch_op(struct ubatch *b, size_t i, const char *sip,
			    int kind)
{
	struct uop *op;

	if ((op = calloc(1, sizeof *op)) == NULL)
		return NULL;
	op->u = b->u;
	op->req = b->req;
	op->what = UOP_PUT;
	op->kind = kind;
	op->batch = b;
	op->idx = i;
	snprintf(op->sip, sizeof op->sip, "%s", sip);
	snprintf(op->key, sizeof op->key, "%s", sip);
	return op;
}

static void batch_drop(struct ubatch *b, struct uop **ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ops[i] != NULL)
			uop_free(ops[i]);
	free(ops);
	batch_free(b);
}

/* Every op is ready: from here on each item ends in batch_item_done,
 * which answers once the last one has. */
static void batch_start(struct uop **ops, size_t n)
{
	for (size_t i = 0; i < n; i++)
		lookup(ops[i]);
	free(ops);
}

void users_batch_run(struct users *u, struct http_request *req,
		     struct users_batch_item *items, size_t n)
{
	struct uop **ops;
	struct ubatch *b = batch_new(u, req, n, &ops);
	size_t i;

	if (b == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		struct uop *op = batch_op(b, i, items[i].sip, items[i].kind);

		if (op == NULL) {
			batch_drop(b, ops, n);
			goto nomem;
		}
		ops[i] = op;
		/* a borrowed value: req's body lives until the answer, and
		 * store_write copies it */
		op->value = (void *)items[i].value;
		op->value_len = items[i].value_len;
		op->value_borrowed = !items[i].owned;
		items[i].owned = false; /* the op's now */
	}
	batch_start(ops, n);
	return;
nomem:
	users_batch_items_free(items, n);
	http_respond_error(req, 500, "internal", "out of memory");
}

void users_batch_items_free(struct users_batch_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (items[i].owned) {
			free((void *)items[i].value);
			items[i].owned = false;
		}
}

static void enable(struct users *u, struct http_request *req)
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
	op = uop_new(u, req, UOP_ENABLE, sip);
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

/* ---- the handlers of the route table (routes.c) ---- */

void users_route_enable(void *module, struct http_request *req,
			const struct route_params *p)
{
	if (!users_ready(users_dp(module), req))
		return;
	enable(module, req);
}

/* The {sip} of p into sip (USERS_SIP_MAX + 2 bytes); false when too long (then
 * req is answered 400). */
static bool sip_param(const struct route_params *p, struct http_request *req,
		      char *sip)
{
	const char *v = route_param(p, "sip");

	if (strlen(v) > USERS_SIP_MAX) {
		http_respond_error(req, 400, "invalid", "SIP URI too long");
		return false;
	}
	snprintf(sip, USERS_SIP_MAX + 2, "%s", v);
	return true;
}

void users_route_disable(void *module, struct http_request *req,
			 const struct route_params *p)
{
	char sip[USERS_SIP_MAX + 2];
	struct uop *op;

	if (!sip_param(p, req, sip) || !users_ready(users_dp(module), req) ||
	    (op = uop_new(module, req, UOP_DISABLE, sip)) == NULL)
		return;
	lookup(op);
}

void users_route_locate(void *module, struct http_request *req,
			const struct route_params *p)
{
	char sip[USERS_SIP_MAX + 2];
	struct uop *op;

	if (!sip_param(p, req, sip) ||
	    !users_ready_read(users_dp(module), req) ||
	    (op = uop_new(module, req, UOP_LOCATE, sip)) == NULL)
		return;
	lookup(op);
}

void users_route_conference(void *module, struct http_request *req,
			    const struct route_params *p)
{
	bool put = req->method_id == HTTP_METHOD_PUT;
	const char *conf = route_param(p, "id");
	char sip[USERS_SIP_MAX + 2];
	struct uop *op;

	if (!sip_param(p, req, sip))
		return;
	if (strlen(conf) >= FSM_NAME_LEN * 2 - 1) {
		http_respond_error(req, 404, "not_found", "no such path");
		return;
	}
	if (!(put ? users_ready : users_ready_read)(users_dp(module), req) ||
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
	const char *kname = route_param(p, "kind");
	int kind = users_kind_parse(kname, strlen(kname));
	char sip[USERS_SIP_MAX + 2];
	struct uop *op;

	if (!sip_param(p, req, sip))
		return;
	if (kind < 0) {
		/* kind is profile, contacts or settings: nothing else is
		 * here */
		http_respond_error(req, 404, "not_found", "no such path");
		return;
	}
	if (!(put ? users_ready : users_ready_read)(users_dp(module), req) ||
	    (op = uop_new(module, req, put ? UOP_PUT : UOP_GET, sip)) == NULL)
		return;
	op->kind = kind;
	if (put && !take_value(op)) {
		uop_free(op);
		return;
	}
	lookup(op);
}
