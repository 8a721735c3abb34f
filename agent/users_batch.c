/* users_batch: POST /v1/users/batch, its two bodies parsed and checked
 * whole before anything is written: JSON ({"items": [...]}, each value
 * stored in compact form) or, with Content-Type application/x-protobuf, a
 * packed poolpair.api.UserBatch whose values are checked once as JSON and
 * then stored and replicated as the bytes received. users_batch_run()
 * (users.c) writes the items and answers. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/batch_pb.h"
#include "agent/json_check.h"
#include "agent/users_internal.h"

#define BATCH_MAX BATCH_PB_MAX_ITEMS

static void nomem(struct http_request *req)
{
	http_respond_error(req, 500, "internal", "out of memory");
}

/* ---- the JSON body ---- */

/* One item of a JSON body, {"sip", "kind", "value"}, into it (its value
 * dumped, owned). 0, or -1 with msg set (it->owned false). */
static int json_item(json_t *item, size_t i, struct users_batch_item *it,
		     char *msg, size_t len)
{
	json_error_t jerr;
	const char *sip = NULL, *kind = NULL;
	json_t *value;

	it->owned = false;
	if (json_unpack_ex(item, &jerr, JSON_STRICT, "{s:s, s:s, s:o}", "sip",
			   &sip, "kind", &kind, "value", &value) != 0) {
		snprintf(msg, len, "items[%zu]: %s", i, jerr.text);
		return -1;
	}
	if (!users_sip_valid(sip)) {
		snprintf(msg, len,
			 "items[%zu]: not a valid SIP URI (sip:user@host, at "
			 "most %d characters)",
			 i, USERS_SIP_MAX);
		return -1;
	}
	it->kind = users_kind_parse(kind, strlen(kind));
	if (it->kind < 0) {
		snprintf(msg, len,
			 "items[%zu]: kind must be profile, contacts or "
			 "settings",
			 i);
		return -1;
	}
	snprintf(it->sip, sizeof it->sip, "%s", sip);
	it->value = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
	if (it->value == NULL) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	it->value_len = strlen(it->value);
	it->owned = true;
	return 0;
}

static void batch_json(struct users *u, struct http_request *req)
{
	json_error_t jerr;
	json_t *root, *items, *item;
	struct users_batch_item *its;
	char msg[320];
	size_t n, i;

	root =
	    json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL ||
	    json_unpack_ex(root, &jerr, JSON_STRICT, "{s:o}", "items",
			   &items) != 0 ||
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
	its = calloc(n, sizeof *its);
	if (its == NULL) {
		json_decref(root);
		nomem(req);
		return;
	}
	json_array_foreach (items, i, item) {
		if (json_item(item, i, &its[i], msg, sizeof msg) != 0) {
			users_batch_items_free(its, i);
			free(its);
			json_decref(root);
			if (strcmp(msg, "out of memory") == 0)
				nomem(req);
			else
				http_respond_error(req, 400, "invalid", msg);
			return;
		}
	}
	json_decref(root);
	users_batch_run(u, req, its, n);
	free(its);
}

/* ---- the binary body ---- */

/* Item i decoded as d into it (value borrowed); 0, or -1 with msg set. */
static int pb_item(const struct batch_pb_item *d, size_t i,
		   struct users_batch_item *it, char *msg, size_t len)
{
	char why[200];

	it->owned = false;
	if (d->sip_len > USERS_SIP_MAX ||
	    (d->sip_len > 0 && memchr(d->sip, '\0', d->sip_len) != NULL)) {
		it->sip[0] = '\0';
	} else {
		if (d->sip_len > 0)
			memcpy(it->sip, d->sip, d->sip_len);
		it->sip[d->sip_len] = '\0';
	}
	if (!users_sip_valid(it->sip)) {
		snprintf(msg, len,
			 "items[%zu]: not a valid SIP URI (sip:user@host, at "
			 "most %d characters)",
			 i, USERS_SIP_MAX);
		return -1;
	}
	it->kind =
	    users_kind_parse(d->kind != NULL ? d->kind : "", d->kind_len);
	if (it->kind < 0) {
		snprintf(msg, len,
			 "items[%zu]: kind must be profile, contacts or "
			 "settings",
			 i);
		return -1;
	}
	if (d->value_len > USERS_VALUE_MAX) {
		snprintf(msg, len, "items[%zu]: a value is at most 1 MiB", i);
		return -1;
	}
	if (json_check(d->value, d->value_len, why, sizeof why) != 0) {
		snprintf(msg, len, "items[%zu]: the value is not JSON: %s", i,
			 why);
		return -1;
	}
	it->value = d->value;
	it->value_len = d->value_len;
	return 0;
}

static void batch_pb(struct users *u, struct http_request *req)
{
	struct batch_pb_item *dec;
	struct users_batch_item *its = NULL;
	char msg[320];
	int n;

	dec = malloc(BATCH_MAX * sizeof *dec);
	if (dec == NULL) {
		nomem(req);
		return;
	}
	n = batch_pb_decode(req->body, req->body_len, dec, BATCH_MAX, msg,
			    sizeof msg);
	if (n < 0) {
		http_respond_error(req, 400, "bad_protobuf", msg);
		goto out;
	}
	if (n == 0) {
		snprintf(msg, sizeof msg, "a batch holds 1..%d items",
			 BATCH_MAX);
		http_respond_error(req, 400, "invalid", msg);
		goto out;
	}
	its = malloc((size_t)n * sizeof *its);
	if (its == NULL) {
		nomem(req);
		goto out;
	}
	for (int i = 0; i < n; i++)
		if (pb_item(&dec[i], (size_t)i, &its[i], msg, sizeof msg) !=
		    0) {
			http_respond_error(req, 400, "invalid", msg);
			goto out;
		}
	users_batch_run(u, req, its, (size_t)n);
out:
	free(dec);
	free(its);
}

void users_route_batch(void *module, struct http_request *req,
		       const struct route_params *p)
{
	struct users *u = module;

	(void)p;
	if (!users_ready(u->deps.data, req))
		return;
	if (batch_pb_content_type(http_request_header(req, "content-type")))
		batch_pb(u, req);
	else
		batch_json(u, req);
}
