/* cms_docs: the CMS documents (see users.h): a user set of their own
 * ("cms"), written at the agent of the pool hosting the active CMS
 * (dataplane_may_write_cms()), read from any pool agent holding a copy
 * ("active" or "standby"). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/answer.h"
#include "agent/users_internal.h"

struct cms_op {
	struct users *u;
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

static void cms_released(void *arg, enum dataplane_release how)
{
	struct cms_op *op = arg;

	if (how == DP_RELEASE_FAILED) {
		http_respond_error(op->req, ANSWER_NOT_DURABLE_STATUS,
				   ANSWER_NOT_DURABLE_CODE,
				   ANSWER_NOT_DURABLE_MESSAGE);
		free(op);
		return;
	}
	cms_answer(op, how == DP_RELEASE_REPLICATED);
}

static void cms_written(void *arg, int status,
			const struct store_write_result *r)
{
	struct cms_op *op = arg;
	struct dataplane *dp = op->u->deps.data;

	dataplane_write_done(dp, DATAPLANE_CMS, status, r);
	if (status != 0) {
		answer_store_error(op->req, status,
				   r != NULL ? r->errmsg : NULL);
		free(op);
		return;
	}
	op->epoch = r->epoch;
	op->seq = r->seq;
	if (dataplane_after_write(dp, DATAPLANE_CMS, r->lane, r->seq,
				  cms_released, op) == 1)
		return;
	cms_answer(op, false);
}

static void cms_got(void *arg, int status, const struct store_item *it)
{
	struct cms_op *op = arg;
	struct users *u = op->u;
	json_t *value;

	if (status != 0) {
		answer_store_error(op->req, status,
				   it != NULL ? it->errmsg : NULL);
		free(op);
		return;
	}
	value = json_loadb((const char *)it->value, it->value_len,
			   JSON_DECODE_ANY, NULL);
	if (value == NULL)
		value = json_stringn((const char *)it->value, it->value_len);
	answer_json(op->req, 200,
		    json_pack("{s:s, s:o, s:I, s:I, s:s}", "name", op->name,
			      "value", value, "epoch", (json_int_t)it->epoch,
			      "seq", (json_int_t)it->seq, "copy",
			      strcmp(u->deps.fsm->cms_active, u->pool) == 0 &&
				      dataplane_writer(u->deps.data, NULL) >= 0
				  ? "active"
				  : "standby"));
	free(op);
}

static void cms_document(struct users *u, struct http_request *req,
			 const char *name)
{
	struct dataplane *dp = u->deps.data;
	const struct fsm *f = u->deps.fsm;
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
			http_respond_error(
			    req, 400, "invalid",
			    "a document name is 1..63 characters "
			    "of [A-Za-z0-9._-]");
			return;
		}
	if (!(get ? users_ready_read : users_ready)(dp, req))
		return;
	op = calloc(1, sizeof *op);
	if (op == NULL) {
		http_respond_error(req, 500, "internal", "out of memory");
		return;
	}
	op->u = u;
	op->req = req;
	snprintf(op->name, sizeof op->name, "%s", name);
	if (get) {
		rv = store_get(&dp->store, DATAPLANE_CMS,
			       POOLPAIR__REPL__KIND__KIND_CMS, name, cms_got,
			       op);
	} else {
		char why[256];
		int code = dataplane_may_write_cms(dp, why, sizeof why);
		json_error_t jerr;
		json_t *v;
		struct store_write w;

		if (code == DATAPLANE_E_NOT_OWNER) {
			answer_json(
			    req, answer_write_status(code),
			    json_pack("{s:s, s:s, s:s, s:s}", "error",
				      "not_owner", "message", why, "owner",
				      f->cms_active, "owner_api",
				      answer_owner_api(f, f->cms_active)));
			free(op);
			return;
		}
		if (code != 0) {
			http_respond_error(req, answer_write_status(code),
					   answer_write_code(code), why);
			free(op);
			return;
		}
		if (req->body_len > USERS_VALUE_MAX) {
			http_respond_error(req, 413, "too_large",
					   "a document is at most 1 MiB");
			free(op);
			return;
		}
		v = json_loadb(req->body, req->body_len,
			       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
		if (v == NULL) {
			char msg[256];

			snprintf(msg, sizeof msg,
				 "the document is not JSON: %s", jerr.text);
			http_respond_error(req, 400, "bad_json", msg);
			free(op);
			return;
		}
		json_decref(v);
		memset(&w, 0, sizeof w);
		w.user_set = DATAPLANE_CMS;
		w.epoch = f->cms_epoch;
		w.hlc = dataplane_hlc(dp);
		w.op = POOLPAIR__REPL__OP__OP_PUT;
		w.kind = POOLPAIR__REPL__KIND__KIND_CMS;
		w.key = op->name;
		w.value = req->body;
		w.value_len = req->body_len;
		rv = store_write(&dp->store, &w, cms_written, op);
	}
	if (rv != 0) {
		answer_store_error(req, rv, NULL);
		free(op);
	}
}

void cms_docs_route(void *module, struct http_request *req,
		    const struct route_params *p)
{
	cms_document(module, req, route_param(p, "name"));
}
