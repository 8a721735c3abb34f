/* content: conference content routes (see content.h).
 *
 * An upload is one struct upload, ended in one place (up_end) once it is
 * answered and no store write is in flight; a download is one struct
 * download, ended by dl_end. */
#include "agent/content.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/answer.h"
#include "agent/log.h"
#include "agent/users.h"

#define MOD "content"
#define SIP_MAX 255
#define CONF_MAX (FSM_NAME_LEN * 2 - 2)
#define READ_PIECE ((size_t)1 << 20)
#define CONTENT_MAX ((uint64_t)64 << 30) /* largest item accepted */
#define CONTENT_TICK_MS 1000		  /* the sweep's timer */

struct content_path {
	char sip[SIP_MAX + 1];
	char conf[CONF_MAX + 1];
	char name[STORE_KEY_MAX + 1];
	char key[STORE_KEY_MAX + 1];
};

struct upload {
	struct content *c;
	struct upload *prev, *next; /* c->uploads */
	struct http_request *req; /* NULL once answered */
	struct content_path cp;
	char user_set[FSM_NAME_LEN];
	uint64_t total;	     /* declared size */
	uint64_t received;   /* body bytes taken in */
	uint64_t written;    /* bytes committed */
	uint64_t epoch, seq; /* of the last committed chunk */
	unsigned char *buf;  /* bytes received, not written yet */
	size_t len, cap;
	bool writing; /* a store write is in flight */
	bool last;    /* the whole body was received */
	int lane;     /* of the last committed chunk */
	bool waiting; /* every chunk written: waits for the local standby */
	bool waited;  /* that wait is over (or none applied) */
};

struct download {
	struct content *c;
	struct http_request *req;
	struct content_path cp;
	char user_set[FSM_NAME_LEN];
	uint64_t total, off;
	unsigned char *buf; /* READ_PIECE bytes, the write in flight */
	bool started;
};

/* The content path's parameters into cp; parts are bounded only by the
 * buffers (a part too long is left "", which content_path_ok() refuses). */
static void path_params(const struct route_params *p, struct content_path *cp)
{
	const char *sip = route_param(p, "sip");
	const char *conf = route_param(p, "id");
	const char *name = route_param(p, "name");

	cp->sip[0] = cp->conf[0] = cp->name[0] = cp->key[0] = '\0';
	if (strlen(sip) < sizeof cp->sip)
		snprintf(cp->sip, sizeof cp->sip, "%s", sip);
	if (strlen(conf) <= CONF_MAX)
		snprintf(cp->conf, sizeof cp->conf, "%s", conf);
	if (strlen(name) < sizeof cp->name)
		snprintf(cp->name, sizeof cp->name, "%s", name);
}

/* ---- upload ---- */

static void up_end(struct upload *op)
{
	if (op->req != NULL || op->writing)
		return;
	if (op->prev != NULL)
		op->prev->next = op->next;
	else if (op->c->uploads == op)
		op->c->uploads = op->next;
	if (op->next != NULL)
		op->next->prev = op->prev;
	free(op->buf);
	free(op);
}

static void up_fail(struct upload *op, int status, const char *code,
		    const char *msg)
{
	if (op->req != NULL) {
		http_respond_error(op->req, status, code, msg);
		op->req = NULL;
	}
	up_end(op);
}

static void up_pump(struct upload *op);

static void up_written(void *arg, int status,
		       const struct store_write_result *r)
{
	struct upload *op = arg;

	op->writing = false;
	dataplane_write_done(op->c->deps.data, op->user_set, status, r);
	if (status != 0) {
		LOG_WARN(MOD, "%s: chunk at %" PRIu64 " refused: %s",
			 op->cp.key, op->written, store_strerror(status));
		if (op->req != NULL) {
			answer_store_error(op->req, status, r->errmsg);
			op->req = NULL;
		}
		up_end(op);
		return;
	}
	op->epoch = r->epoch;
	op->seq = r->seq;
	op->lane = r->lane;
	if (op->req == NULL) {
		up_end(op);
		return;
	}
	up_pump(op);
}

/* The local synchronous standby has the last chunk (or was dropped), or
 * this agent stopped being the writer (or closes) first: not durable. */
static void up_released(void *arg, enum dataplane_release how)
{
	struct upload *op = arg;

	op->waiting = false;
	op->waited = true;
	if (how == DP_RELEASE_FAILED) {
		LOG_WARN(MOD,
			 "%s: no longer the writer (or closing) before the "
			 "synchronous copy acknowledged the upload: answered "
			 "not durable",
			 op->cp.key);
		up_fail(op, ANSWER_NOT_DURABLE_STATUS, ANSWER_NOT_DURABLE_CODE,
			ANSWER_NOT_DURABLE_MESSAGE);
		return;
	}
	up_pump(op);
}

/* Writes the next chunk: the first STORE_CONTENT_CHUNK bytes of buf. */
static void up_write(struct upload *op)
{
	struct content *c = op->c;
	const struct fsm_pool *p = fsm_pool_find(c->deps.fsm, op->user_set);
	size_t n =
	    op->len < STORE_CONTENT_CHUNK ? op->len : STORE_CONTENT_CHUNK;
	struct store_write w;
	int rv;

	if (p == NULL || strcmp(p->owner, c->pool) != 0) {
		/* the owner changed during the upload */
		if (p != NULL && op->req != NULL) {
			answer_not_owner(op->req, c->deps.fsm, p);
			op->req = NULL; /* answered: up_fail only ends op */
		}
		up_fail(op, 421, "not_owner", "no longer the owner");
		return;
	}
	{
		/* no lease, or a drain began: stop here (the item stays
		 * incomplete) */
		char why[256];
		int code =
		    dataplane_may_write(c->deps.data, p, why, sizeof why);

		if (code != 0) {
			up_fail(op, answer_write_status(code),
				answer_write_code(code), why);
			return;
		}
	}
	content_write_init(c, p, POOLPAIR__REPL__OP__OP_CONTENT_CHUNK,
			   op->cp.key, &w);
	w.value = op->buf;
	w.value_len = n;
	w.offset = op->written;
	w.total = op->total;
	rv = store_write(&c->deps.data->store, &w, up_written, op);
	if (rv != 0) {
		answer_store_error(op->req, rv, NULL);
		op->req = NULL;
		up_end(op);
		return;
	}
	/* the store copied the chunk */
	op->writing = true;
	op->written += n;
	op->len -= n;
	memmove(op->buf, op->buf + n, op->len);
}

/* Next step: write a chunk, answer, or ask for more of the body. */
static void up_pump(struct upload *op)
{
	if (op->writing || op->waiting || op->req == NULL)
		return;
	if (op->len >= STORE_CONTENT_CHUNK || (op->last && op->len > 0)) {
		up_write(op);
		return;
	}
	if (op->last && !op->waited && op->seq != 0) {
		/* answered once a local standby has it too (dataplane.h) */
		op->waited = true;
		if (dataplane_after_content(op->c->deps.data, op->user_set,
					    op->lane, op->seq, up_released,
					    op) == 1) {
			op->waiting = true;
			return;
		}
	}
	if (op->last) {
		LOG_INFO(MOD,
			 "%s: %" PRIu64 " bytes stored (epoch %" PRIu64
			 ", seq %" PRIu64 ")",
			 op->cp.key, op->total, op->epoch, op->seq);
		answer_json(op->req, 201,
			    json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "sip",
				      op->cp.sip, "conference", op->cp.conf,
				      "name", op->cp.name, "size",
				      (json_int_t)op->total, "epoch",
				      (json_int_t)op->epoch, "seq",
				      (json_int_t)op->seq));
		op->req = NULL;
		up_end(op);
		return;
	}
	http_request_resume(op->req);
}

static int up_append(struct upload *op, const void *data, size_t len)
{
	if (op->len + len > op->cap) {
		size_t cap = op->len + len;
		unsigned char *b;

		if (cap < STORE_CONTENT_CHUNK)
			cap = STORE_CONTENT_CHUNK;
		b = realloc(op->buf, cap);
		if (b == NULL)
			return -ENOMEM;
		op->buf = b;
		op->cap = cap;
	}
	memcpy(op->buf + op->len, data, len);
	op->len += len;
	op->received += len;
	return 0;
}

static void up_piece(void *arg, struct http_request *req, const void *data,
		     size_t len, int last)
{
	struct upload *op = arg;
	char msg[160];

	if (last < 0) {
		LOG_WARN(MOD,
			 "%s: upload cut after %" PRIu64 " of %" PRIu64
			 " bytes: the item stays incomplete",
			 op->cp.key, op->received, op->total);
		up_fail(op, 400, "incomplete", "connection lost");
		return;
	}
	if (len > op->total - op->received) {
		snprintf(msg, sizeof msg,
			 "the body is longer than the declared %" PRIu64
			 " bytes",
			 op->total);
		up_fail(op, 400, "invalid", msg);
		return;
	}
	if (len > 0 && up_append(op, data, len) != 0) {
		up_fail(op, 500, "internal", "out of memory");
		return;
	}
	if (last) {
		op->last = true;
		if (op->received != op->total) {
			snprintf(msg, sizeof msg,
				 "the body has %" PRIu64
				 " bytes, X-Content-Length says %" PRIu64,
				 op->received, op->total);
			up_fail(op, 400, "invalid", msg);
			return;
		}
	}
	up_pump(op);
}

static void up_located(void *arg, int status, const struct store_item *it)
{
	struct upload *op = arg;
	struct content *c = op->c;
	const struct fsm_pool *p;
	char home[FSM_NAME_LEN];
	char msg[SIP_MAX + 64];
	int rv;

	if (status == STORE_E_NOT_FOUND) {
		snprintf(msg, sizeof msg, "no user %s", op->cp.sip);
		up_fail(op, 404, "not_found", msg);
		return;
	}
	if (status != 0) {
		answer_store_error(op->req, status, it->errmsg);
		op->req = NULL;
		up_end(op);
		return;
	}
	if (!it->enabled) {
		snprintf(msg, sizeof msg, "user %s is disabled", op->cp.sip);
		up_fail(op, 404, "not_found", msg);
		return;
	}
	snprintf(home, sizeof home, "%.*s", (int)it->value_len,
		 (const char *)it->value);
	if (home[0] == '\0')
		snprintf(home, sizeof home, "%s", it->user_set);
	p = fsm_pool_find(c->deps.fsm, home);
	if (p == NULL && (c->deps.fsm->n_pools == 0 ||
			  proposer_leader(c->deps.proposer, NULL) == 0)) {
		up_fail(op, 503, "unavailable",
			"the cluster state is still loading: retry");
		return;
	}
	if (p == NULL) {
		snprintf(msg, sizeof msg, "pool %s is not defined", home);
		up_fail(op, 404, "not_found", msg);
		return;
	}
	{
		char why[256];
		int code =
		    dataplane_may_write(c->deps.data, p, why, sizeof why);

		if (code == DATAPLANE_E_NOT_OWNER) {
			answer_not_owner(op->req, c->deps.fsm, p);
			op->req = NULL;
			up_end(op);
			return;
		}
		if (code != 0) {
			up_fail(op, answer_write_status(code),
				answer_write_code(code), why);
			return;
		}
	}
	snprintf(op->user_set, sizeof op->user_set, "%s", p->name);
	if (!op->req->streaming) {
		/* a buffered body: all of it is here */
		if (up_append(op, op->req->body, op->req->body_len) != 0) {
			up_fail(op, 500, "internal", "out of memory");
			return;
		}
		op->last = true;
		up_pump(op);
		return;
	}
	rv = http_request_on_body(op->req, up_piece, op);
	if (rv != 0)
		up_fail(op, 400, "incomplete", uv_strerror(rv));
}

/* The declared size of the upload: Content-Length, or X-Content-Length
 * with a chunked body, at most room bytes (the space above the store's
 * reserve). 0 after answering the request. */
static uint64_t upload_size(struct http_request *req, uint64_t room)
{
	const char *te = http_request_header(req, "Transfer-Encoding");
	const char *cl = http_request_header(req, "Content-Length");
	const char *xcl = http_request_header(req, "X-Content-Length");
	bool chunked = te != NULL && strcasestr(te, "chunked") != NULL;
	unsigned long long v = 0;
	char *end;

	if (chunked && xcl == NULL) {
		http_respond_error(req, 411, "length_required",
				   "a chunked upload needs X-Content-Length: "
				   "the size in bytes");
		return 0;
	}
	if (!chunked && cl == NULL) {
		http_respond_error(req, 411, "length_required",
				   "Content-Length (or a chunked body with "
				   "X-Content-Length) is required");
		return 0;
	}
	if (xcl != NULL) {
		errno = 0;
		v = strtoull(xcl, &end, 10);
		if (errno != 0 || end == xcl || *end != '\0' || xcl[0] == '-') {
			http_respond_error(req, 400, "invalid",
					   "X-Content-Length must be a "
					   "decimal number of bytes");
			return 0;
		}
		if (!chunked && cl != NULL && strtoull(cl, NULL, 10) != v) {
			http_respond_error(req, 400, "invalid",
					   "X-Content-Length differs from "
					   "Content-Length");
			return 0;
		}
	} else {
		v = strtoull(cl, NULL, 10); /* checked by the parser */
	}
	if (v == 0) {
		http_respond_error(req, 400, "invalid", "the content is empty");
		return 0;
	}
	if (v > CONTENT_MAX) {
		http_respond_error(req, 413, "too_large",
				   "an item is at most 64 GiB");
		return 0;
	}
	if (v > room) {
		char msg[256];

		snprintf(msg, sizeof msg,
			 "an item of %llu bytes does not fit: the disk "
			 "holding the store has %llu bytes free above its "
			 "reserve",
			 v, (unsigned long long)room);
		http_respond_error(req, 507, "insufficient_storage", msg);
		return 0;
	}
	if (!req->streaming && v != req->body_len) {
		http_respond_error(req, 400, "invalid",
				   "X-Content-Length differs from the body");
		return 0;
	}
	return v;
}

static void upload(struct content *c, struct http_request *req,
		   const struct content_path *cp)
{
	uint64_t total = upload_size(
	    req, store_space_room(store_space(&c->deps.data->store)));
	struct upload *op;
	int rv;

	if (total == 0)
		return;
	op = calloc(1, sizeof *op);
	if (op == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	op->c = c;
	op->req = req;
	op->cp = *cp;
	op->total = total;
	op->next = c->uploads;
	if (c->uploads != NULL)
		c->uploads->prev = op;
	c->uploads = op;
	rv = store_user_location(&c->deps.data->store, cp->sip, up_located, op);
	if (rv != 0) {
		answer_store_error(req, rv, NULL);
		op->req = NULL;
		up_end(op);
	}
}

/* ---- download ---- */

static void dl_end(struct download *op)
{
	if (op->started)
		http_respond_end(
		    op->req); /* cut short: the connection closes */
	free(op->buf);
	free(op);
}

static void dl_read(void *arg, int status, const struct store_content_piece *p);

static void dl_written(void *arg, int status)
{
	struct download *op = arg;
	int rv;

	if (status != 0 || op->off == op->total) {
		dl_end(op);
		return;
	}
	rv = store_content_read(&op->c->deps.data->store, op->user_set,
				op->cp.sip, op->cp.conf, op->cp.name, op->off,
				READ_PIECE, dl_read, op);
	if (rv != 0)
		dl_end(op);
}

/* The first piece: answer 404/409 or start the body. Returns false when
 * the request was answered. */
static bool dl_start(struct download *op, int status,
		     const struct store_content_piece *p)
{
	char msg[STORE_KEY_MAX + 128];
	char extra[64];

	if (status == STORE_E_NOT_FOUND) {
		snprintf(msg, sizeof msg, "no content %s", op->cp.key);
		http_respond_error(op->req, 404, "not_found", msg);
		return false;
	}
	if (status != 0) {
		answer_store_error(op->req, status, p->errmsg);
		return false;
	}
	if (!p->complete) {
		snprintf(msg, sizeof msg,
			 "content %s is incomplete: %" PRIu64 " of %" PRIu64
			 " bytes stored",
			 op->cp.key, p->stored, p->total);
		http_respond_error(op->req, 409, "incomplete", msg);
		return false;
	}
	snprintf(extra, sizeof extra, "X-Copy: %s\r\n",
		 users_copy_name(op->c->deps.data, op->c->deps.fsm,
				 op->user_set));
	op->total = p->total;
	op->started = true;
	http_respond_start(op->req, 200, "application/octet-stream", p->total,
			   extra);
	return true;
}

static void dl_read(void *arg, int status, const struct store_content_piece *p)
{
	struct download *op = arg;
	int rv;

	if (!op->started) {
		if (!dl_start(op, status, p)) {
			free(op->buf);
			free(op);
			return;
		}
		if (op->total == 0) {
			dl_end(op);
			return;
		}
	} else if (status != 0 || !p->complete || p->total != op->total) {
		/* changed under the download (a new upload started) */
		LOG_WARN(MOD, "%s: download cut at %" PRIu64 ": %s", op->cp.key,
			 op->off,
			 status != 0 ? store_strerror(status)
				     : "the item changed");
		dl_end(op);
		return;
	}
	if (p->len == 0 || p->offset != op->off || p->len > READ_PIECE) {
		dl_end(op);
		return;
	}
	memcpy(op->buf, p->data, p->len);
	rv = http_respond_write(op->req, op->buf, p->len, dl_written, op);
	if (rv != 0) {
		dl_end(op);
		return;
	}
	op->off += p->len;
}

static void dl_located(void *arg, int status, const struct store_item *it)
{
	struct download *op = arg;
	char msg[SIP_MAX + 32];
	int rv;

	if (status == STORE_E_NOT_FOUND) {
		snprintf(msg, sizeof msg, "no user %s", op->cp.sip);
		http_respond_error(op->req, 404, "not_found", msg);
		dl_end(op);
		return;
	}
	if (status != 0) {
		answer_store_error(op->req, status, it->errmsg);
		dl_end(op);
		return;
	}
	if (users_copy_refused(op->c->deps.data, it->user_set, op->req)) {
		dl_end(op);
		return;
	}
	snprintf(op->user_set, sizeof op->user_set, "%s", it->user_set);
	rv = store_content_read(&op->c->deps.data->store, op->user_set,
				op->cp.sip, op->cp.conf, op->cp.name, 0,
				READ_PIECE, dl_read, op);
	if (rv != 0) {
		answer_store_error(op->req, rv, NULL);
		dl_end(op);
	}
}

static void download(struct content *c, struct http_request *req,
		     const struct content_path *cp)
{
	struct download *op = calloc(1, sizeof *op);
	int rv;

	if (op != NULL)
		op->buf = malloc(READ_PIECE);
	if (op == NULL || op->buf == NULL) {
		free(op);
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	op->c = c;
	op->req = req;
	op->cp = *cp;
	rv = store_user_location(&c->deps.data->store, cp->sip, dl_located, op);
	if (rv != 0) {
		answer_store_error(req, rv, NULL);
		dl_end(op);
	}
}

/* ---- route ---- */

/* Checks the path's parts (answering 400 and returning false when one is
 * bad) and that the store serves. */
static bool content_path_ok(struct content *c, struct http_request *req,
			    const struct route_params *p,
			    struct content_path *cp, bool read)
{
	path_params(p, cp);
	if (!users_sip_valid(cp->sip)) {
		http_respond_error(req, 400, "invalid",
				   "not a valid SIP URI (sip:user@host, at "
				   "most 255 characters)");
		return false;
	}
	if (cp->conf[0] == '\0' || cp->name[0] == '\0' ||
	    store_key_content(cp->key, sizeof cp->key, cp->sip, cp->conf,
			      cp->name) != 0) {
		http_respond_error(req, 400, "invalid",
				   "bad conference id or content name");
		return false;
	}
	return read ? users_ready_read(c->deps.data, req)
		    : users_ready(c->deps.data, req);
}

void content_write_init(struct content *c, const struct fsm_pool *p, int op,
			const char *key, struct store_write *w)
{
	memset(w, 0, sizeof *w);
	w->user_set = p->name;
	w->epoch = p->epoch;
	w->hlc = dataplane_hlc(c->deps.data);
	w->op = op;
	w->kind = POOLPAIR__REPL__KIND__KIND_CONTENT;
	w->key = key;
}

bool content_uploading(const struct content *c, const char *user_set,
		       const char *key)
{
	for (const struct upload *op = c->uploads; op != NULL; op = op->next)
		if (strcmp(op->cp.key, key) == 0 &&
		    (op->user_set[0] == '\0' ||
		     strcmp(op->user_set, user_set) == 0))
			return true;
	return false;
}

static void tick(uv_timer_t *t) { content_sweep_tick(t->data); }

int content_init(struct content *c, const struct content_deps *deps)
{
	int rv;

	memset(c, 0, sizeof *c);
	c->deps = *deps;
	snprintf(c->pool, sizeof c->pool, "%s", deps->pool);
	c->deps.pool = c->pool;
	if (c->deps.loop == NULL || c->pool[0] == '\0')
		return 0;
	rv = uv_timer_init(c->deps.loop, &c->timer);
	if (rv != 0)
		return rv;
	c->timer.data = c;
	c->timer_open = true;
	return uv_timer_start(&c->timer, tick, CONTENT_TICK_MS,
			      CONTENT_TICK_MS);
}

static void timer_closed(uv_handle_t *h)
{
	struct content *c = h->data;

	if (c->close_cb != NULL)
		c->close_cb(c);
}

int content_close(struct content *c, content_close_cb cb)
{
	c->closing = true;
	if (!c->timer_open)
		return -EALREADY;
	c->timer_open = false;
	c->close_cb = cb;
	uv_close((uv_handle_t *)&c->timer, timer_closed);
	return 0;
}

void content_route_put(void *module, struct http_request *req,
		       const struct route_params *p)
{
	struct content_path cp;

	if (content_path_ok(module, req, p, &cp, false))
		upload(module, req, &cp);
}

void content_route_get(void *module, struct http_request *req,
		       const struct route_params *p)
{
	struct content_path cp;

	if (content_path_ok(module, req, p, &cp, true))
		download(module, req, &cp);
}
