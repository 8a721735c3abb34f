/* verify_peer: the pair's side of a verify (verify.h): GET
 * /v1/internal/digest, GET /v1/internal/keys, POST /v1/internal/repair.
 * Each request holds only itself and its store operation: nothing of the
 * module outlives the handler call. */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/answer.h"
#include "agent/caller.h"
#include "agent/log.h"
#include "agent/verify_b64.h"
#include "agent/verify_internal.h"

#define MOD VERIFY_MOD

/* ---- GET /v1/internal/digest ------------------------------------------- */

/* user_set from the query into out; answers 400 and returns false when
 * absent or malformed. */
static bool query_user_set(struct http_request *req, char *out, size_t len)
{
	if (http_query_param(req, "user_set", out, len) != 0 ||
	    !verify_name_ok(out)) {
		http_respond_error(req, 400, "invalid",
				   "user_set must be a pool name (1-63 of "
				   "A-Z a-z 0-9 . _ -)");
		return false;
	}
	return true;
}

static bool ready(struct verify *m, struct http_request *req)
{
	return m->d.data_ops->ready(m->d.data, req);
}

/* For the reads of a copy (digest, keys). */
static bool ready_read(struct verify *m, struct http_request *req)
{
	if (m->d.data_ops->ready_read == NULL)
		return ready(m, req);
	return m->d.data_ops->ready_read(m->d.data, req);
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
		    arr == NULL ? NULL
				: json_pack("{s:s, s:I, s:o}", "user_set",
					    d->user_set, "items",
					    (json_int_t)d->items, "buckets",
					    arr));
}

void verify_route_digest(void *module, struct http_request *req,
			 const struct route_params *p)
{
	struct verify *m = module;
	char us[FSM_NAME_LEN + 1];
	int rv;

	(void)p;
	if (!query_user_set(req, us, sizeof us) || !ready_read(m, req))
		return;
	rv = store_digest(m->d.store, us, digest_answer, req);
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

	return verify_key_cmp(a->kind, a->key, b->kind, b->key);
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
		if (o == NULL || verify_json_set_key(o, sorted[i]->key) != 0 ||
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
			      (json_int_t)kr->offset, "keys", arr, "next",
			      next));
	goto out;
nomem:
	json_decref(arr);
	http_respond_error(req, 500, "internal", "out of memory");
out:
	free(sorted);
	free(kr);
}

void verify_route_keys(void *module, struct http_request *req,
		       const struct route_params *p)
{
	struct verify *m = module;
	char us[FSM_NAME_LEN + 1], buf[32];
	uint64_t bucket, offset = 0;
	struct keys_req *kr;
	int rv;

	(void)p;
	if (!query_user_set(req, us, sizeof us))
		return;
	if (http_query_param(req, "bucket", buf, sizeof buf) != 0 ||
	    !verify_parse_u64(buf, STORE_DIGEST_BUCKETS - 1, &bucket)) {
		http_respond_error(req, 400, "invalid",
				   "bucket must be an integer from 0 to 63");
		return;
	}
	rv = http_query_param(req, "offset", buf, sizeof buf);
	if ((rv != 0 && rv != UV_ENOENT) ||
	    (rv == 0 && !verify_parse_u64(buf, VERIFY_KEYS_MAX, &offset))) {
		http_respond_error(req, 400, "invalid",
				   "offset must be a non-negative integer");
		return;
	}
	if (!ready_read(m, req))
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
	rv = store_diff_keys(m->d.store, us, kr->bucket, keys_answer, kr);
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
	json_t *o;

	if (status != 0) {
		LOG_WARN(MOD, "%s: repair of %s %s refused: %s", rr->user_set,
			 store_kind_name(rr->kind), rr->key,
			 verify_emsg(errmsg, status));
		answer_store_error(rr->req, status, errmsg);
		free(rr);
		return;
	}
	LOG_INFO(MOD, "%s: repaired %s %s (%s)", rr->user_set,
		 store_kind_name(rr->kind), rr->key, verify_op_name(rr->op));
	o = json_pack("{s:s, s:s, s:s}", "user_set", rr->user_set, "kind",
		      store_kind_name(rr->kind), "op", verify_op_name(rr->op));
	if (o != NULL && verify_json_set_key(o, rr->key) != 0) {
		json_decref(o);
		o = NULL;
	}
	answer_json(rr->req, 200, o);
	free(rr);
}

/* The change record of a repair body, or NULL after answering 400. */
static Poolpair__Repl__ChangeRecord *repair_body(struct http_request *req)
{
	const char *ct = http_request_header(req, "Content-Type");
	Poolpair__Repl__ChangeRecord *rec;
	uint8_t *raw = NULL;
	size_t rawlen;

	if (ct != NULL && strncmp(ct, "application/x-protobuf", 22) == 0) {
		rec = poolpair__repl__change_record__unpack(
		    NULL, req->body_len, (const uint8_t *)req->body);
	} else {
		if (verify_b64_decode(req->body, req->body_len, &raw,
				      &rawlen) != 0) {
			http_respond_error(req, 400, "bad_body",
					   "the body is not base64 of a "
					   "change record");
			return NULL;
		}
		rec = poolpair__repl__change_record__unpack(NULL, rawlen, raw);
		free(raw);
	}
	if (rec == NULL)
		http_respond_error(req, 400, "bad_body",
				   "the body is not a change record");
	return rec;
}

void verify_route_repair(void *module, struct http_request *req,
			 const struct route_params *p)
{
	struct verify *m = module;
	Poolpair__Repl__ChangeRecord *rec;
	const struct fsm_pool *pool, *o;
	const struct fsm_member *w;
	struct repair_req *rr;
	int rv;

	(void)p;
	if (!ready(m, req))
		return;
	rec = repair_body(req);
	if (rec == NULL)
		return;
	pool = verify_name_ok(rec->user_set)
		   ? fsm_pool_find(m->d.fsm, rec->user_set)
		   : NULL;
	if (pool == NULL) {
		http_respond_error(req, 404, "not_found",
				   "the record's user set is not a known pool");
		goto out;
	}
	o = fsm_pool_find(m->d.fsm, pool->owner);
	if (m->pool[0] == '\0' || strcmp(pool->owner, m->pool) == 0 ||
	    o == NULL || strcmp(o->pair, m->pool) != 0) {
		char msg[256];

		snprintf(msg, sizeof msg,
			 "this agent does not hold the backup copy of %s "
			 "(owner %s)",
			 pool->name, pool->owner);
		http_respond_error(req, 409, "not_backup", msg);
		goto out;
	}
	/* the verify runs at the owner pool's writer (verify.c answers 421
	 * elsewhere), which alone sends its repairs */
	w = fsm_pool_writer(m->d.fsm, pool->owner);
	if (!caller_check(&m->quiet, req, w != NULL ? w->id : 0, pool->owner,
			  "only the writer of the owner pool sends repairs"))
		goto out;
	rr = calloc(1, sizeof *rr);
	if (rr == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		goto out;
	}
	rr->req = req;
	rr->kind = rec->kind;
	rr->op = rec->op;
	snprintf(rr->user_set, sizeof rr->user_set, "%s", pool->name);
	snprintf(rr->key, sizeof rr->key, "%s",
		 rec->key != NULL ? rec->key : "");
	rv = store_repair(m->d.store, rec, repair_applied, rr);
	if (rv != 0) {
		free(rr);
		answer_store_error(req, rv,
				   rv == STORE_E_INVALID
				       ? "malformed change record"
				       : NULL);
	}
out:
	poolpair__repl__change_record__free_unpacked(rec, NULL);
}
