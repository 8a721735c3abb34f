/* Tests of agent/answer.c: the HTTP status and error code each layer's
 * code is answered with, and the answers themselves, through a real
 * server (http_roundtrip.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/answer.h"
#include "agent/dataplane.h"
#include "http_roundtrip.h"
#include "replication/store.h"

/* ---- the mappings ---- */

static void fsm_statuses(void **state)
{
	static const int http[FSM_CODE_COUNT] = {
	    [FSM_OK] = 0,
	    [FSM_E_MALFORMED] = 400,
	    [FSM_E_INVALID] = 400,
	    [FSM_E_EXISTS] = 409,
	    [FSM_E_NOT_FOUND] = 404,
	    [FSM_E_FULL] = 507,
	    [FSM_E_IN_USE] = 409,
	    [FSM_E_PAIR_EDITION] = 409,
	    [FSM_E_PAIR_KIND] = 409,
	    [FSM_E_PAIR_OS] = 409,
	    [FSM_E_PAIR_SITE] = 409,
	    [FSM_E_PAIR_ALREADY] = 409,
	    [FSM_E_PAIR_SELF] = 409,
	    [FSM_E_FAILED_OVER] = 409,
	    [FSM_E_NOT_PAIRED] = 409,
	    [FSM_E_NESTED] = 400,
	    [FSM_E_PAIR_DOWN] = 409,
	    [FSM_E_NOT_FAILED_OVER] = 409,
	    [FSM_E_REFUSED_EVENT] = 409,
	    [FSM_E_CMS_MOVING] = 409,
	    [FSM_E_STALE] = 409,
	    [FSM_E_REFUSED] = 409,
	};

	(void)state;
	for (int i = 0; i < FSM_CODE_COUNT; i++)
		assert_int_equal(answer_fsm_status(i), http[i]);
	assert_int_equal(answer_fsm_status(-1), 400);
	assert_int_equal(answer_fsm_status(FSM_CODE_COUNT), 400);
}

static void store_statuses(void **state)
{
	static const struct {
		int rv;
		int status;
		const char *code;
	} cases[] = {
	    {STORE_E_STALE_EPOCH, 409, "stale_epoch"},
	    {STORE_E_NOT_FOUND, 404, "not_found"},
	    {STORE_E_FULL, 507, "full"},
	    {STORE_E_RESERVE, 507, "insufficient_storage"},
	    {STORE_E_INVALID, 400, "invalid"},
	    {STORE_E_IO, 503, "unavailable"},
	    {STORE_E_CLOSING, 503, "unavailable"},
	    {STORE_E_GAP, 503, "unavailable"},
	    {-12345, 503, "unavailable"},
	};
	char msg[320], want[320];
	const char *code;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(answer_store_describe(cases[i].rv, NULL, &code,
						       msg, sizeof msg),
				 cases[i].status);
		assert_string_equal(code, cases[i].code);
		snprintf(want, sizeof want, "store: %s",
			 store_strerror(cases[i].rv));
		assert_string_equal(msg, want);
	}
	/* a message of the operation replaces the code's */
	answer_store_describe(STORE_E_INVALID, "bad key", &code, msg,
			      sizeof msg);
	assert_string_equal(msg, "store: bad key");
	answer_store_describe(STORE_E_INVALID, "", &code, msg, sizeof msg);
	snprintf(want, sizeof want, "store: %s",
		 store_strerror(STORE_E_INVALID));
	assert_string_equal(msg, want);
}

static void write_statuses(void **state)
{
	(void)state;
	assert_int_equal(answer_write_status(DATAPLANE_E_NOT_OWNER), 421);
	assert_int_equal(answer_write_status(DATAPLANE_E_NOT_NOW), 503);
	assert_int_equal(answer_write_status(DATAPLANE_E_NOT_WRITER), 421);
	assert_string_equal(answer_write_code(DATAPLANE_E_NOT_OWNER),
			    "not_owner");
	assert_string_equal(answer_write_code(DATAPLANE_E_NOT_WRITER),
			    "not_writer");
	assert_string_equal(answer_write_code(DATAPLANE_E_NOT_NOW),
			    "unavailable");
}

static struct fsm *two_pools(void)
{
	struct fsm *f = calloc(1, sizeof *f);

	assert_non_null(f);
	fsm_init(f);
	f->n_members = 3;
	f->members[0].id = 1;
	snprintf(f->members[0].pool, FSM_NAME_LEN, "pool-west");
	/* a standby of pool-west (not its API) */
	f->members[1].id = 2;
	snprintf(f->members[1].pool, FSM_NAME_LEN, "pool-west");
	snprintf(f->members[1].api_address, FSM_ADDR_LEN, "10.0.2.1:7101");
	snprintf(f->members[1].name, FSM_NAME_LEN, "west2");
	f->members[2].id = 3;
	snprintf(f->members[2].pool, FSM_NAME_LEN, "pool-west");
	snprintf(f->members[2].api_address, FSM_ADDR_LEN, "10.0.2.2:7101");
	f->n_pools = 1;
	snprintf(f->pools[0].name, FSM_NAME_LEN, "pool-east");
	snprintf(f->pools[0].owner, FSM_NAME_LEN, "pool-west");
	f->pools[0].epoch = 2;
	/* the API of pool-west is its writer's: member 2 */
	f->n_pools = 2;
	snprintf(f->pools[1].name, FSM_NAME_LEN, "pool-west");
	snprintf(f->pools[1].owner, FSM_NAME_LEN, "pool-west");
	f->pools[1].epoch = 1;
	f->pools[1].writer = 2;
	f->pools[1].writer_token = 1;
	return f;
}

static void owner_api(void **state)
{
	struct fsm *f = two_pools();
	char msg[256];

	(void)state;
	assert_string_equal(answer_owner_api(f, "pool-west"), "10.0.2.1:7101");
	assert_string_equal(answer_owner_api(f, "pool-east"), "");
	answer_not_owner_message(&f->pools[0], msg, sizeof msg);
	assert_string_equal(msg, "the user set of pool-east is owned by "
				 "pool-west (epoch 2): write there");
	free(f);
}

/* ---- the answers, through a server ---- */

static void fake_strerror(void *impl, int rv, char *buf, size_t len)
{
	(void)impl;
	snprintf(buf, len, "fake: %d", rv);
}

static const struct proposer_ops fake_ops = {.strerror = fake_strerror};

struct world {
	struct fsm *fsm;
	struct proposer proposer;
};

static void handler(struct http_request *req)
{
	struct world *w = req->data;
	int n = 0;

	if (strcmp(req->path, "/json") == 0) {
		answer_json_headers(req, 201, json_pack("{s:i}", "a", 1),
				    "X-Extra: yes\r\n");
	} else if (strcmp(req->path, "/json-null") == 0) {
		answer_json(req, 200, NULL);
	} else if (sscanf(req->path, "/fsm/%d", &n) == 1) {
		answer_fsm_refusal(
		    req, n,
		    strcmp(req->query, "empty") == 0 ? "" : "the reason");
	} else if (sscanf(req->path, "/store/%d", &n) == 1) {
		answer_store_error(req, n, NULL);
	} else if (strcmp(req->path, "/not-owner") == 0) {
		answer_not_owner(req, w->fsm, &w->fsm->pools[0]);
	} else if (strcmp(req->path, "/not-writer") == 0) {
		answer_not_writer(req, "pool-west", &w->fsm->members[1],
				  "https");
	} else if (strcmp(req->path, "/not-writer-unknown") == 0) {
		answer_not_writer(req, "pool-west", NULL, "http");
	} else if (sscanf(req->path, "/proposal/%d", &n) == 1) {
		answer_proposal_error(req, &w->proposer, n);
	} else if (strcmp(req->path, "/request") == 0) {
		struct request_error err = {.status = 413,
					    .code = "too_large",
					    .message = "body too large"};

		answer_request_error(req, &err);
	} else {
		http_respond_error(req, 404, "not_found", "no such path");
	}
}

static void check(struct rt *rt, const char *target, int status,
		  const char *body)
{
	assert_int_equal(rt_request(rt, "GET", target, NULL, NULL), status);
	assert_string_equal(rt_body(rt), body);
}

static void answers(void **state)
{
	struct world w = {.fsm = two_pools(),
			  .proposer = {.ops = &fake_ops, .impl = NULL}};
	struct rt *rt = calloc(1, sizeof *rt);
	char path[64], body[256], hdr[64];

	(void)state;
	assert_non_null(rt);
	rt_start(rt, handler, &w, NULL);
	check(rt, "/json", 201, "{\"a\":1}");
	assert_string_equal(rt_header(rt, "X-Extra", hdr, sizeof hdr), "yes");
	assert_string_equal(rt_header(rt, "Content-Type", hdr, sizeof hdr),
			    "application/json");
	check(rt, "/json-null", 500,
	      "{\"error\":\"internal\",\"message\":\"out of memory rendering "
	      "the answer\"}");

	snprintf(path, sizeof path, "/fsm/%d", FSM_E_PAIR_OS);
	check(rt, path, 409,
	      "{\"error\":\"pair_os\",\"message\":\"the reason\"}");
	snprintf(path, sizeof path, "/fsm/%d?empty", FSM_E_NOT_FOUND);
	check(rt, path, 404,
	      "{\"error\":\"not_found\",\"message\":\"not_found\"}");
	snprintf(path, sizeof path, "/fsm/%d", FSM_E_FULL);
	check(rt, path, 507, "{\"error\":\"full\",\"message\":\"the reason\"}");

	snprintf(path, sizeof path, "/store/%d", STORE_E_STALE_EPOCH);
	snprintf(body, sizeof body,
		 "{\"error\":\"stale_epoch\",\"message\":\"store: %s\"}",
		 store_strerror(STORE_E_STALE_EPOCH));
	check(rt, path, 409, body);
	snprintf(path, sizeof path, "/store/%d", STORE_E_IO);
	assert_int_equal(rt_request(rt, "GET", path, NULL, NULL), 503);
	assert_non_null(strstr(rt_body(rt), "\"error\":\"unavailable\""));

	check(rt, "/not-owner", 421,
	      "{\"error\":\"not_owner\",\"message\":\"the user set of "
	      "pool-east is owned by pool-west (epoch 2): write there\","
	      "\"owner\":\"pool-west\",\"owner_api\":\"10.0.2.1:7101\","
	      "\"epoch\":2}");

	check(rt, "/not-writer", 421,
	      "{\"error\":\"not_writer\",\"message\":\"standby of "
	      "pool-west; the writer is west2: send it there\",\"pool\":"
	      "\"pool-west\",\"writer\":\"west2\",\"api\":"
	      "\"https://10.0.2.1:7101\"}");
	check(rt, "/not-writer-unknown", 421,
	      "{\"error\":\"not_writer\",\"message\":\"standby of "
	      "pool-west; the writer is an unknown member: send it there\","
	      "\"pool\":\"pool-west\",\"writer\":\"\",\"api\":\"\"}");

	snprintf(path, sizeof path, "/proposal/%d", PROPOSER_E_UNKNOWN);
	check(rt, path, 503,
	      "{\"error\":\"unavailable\",\"message\":\"leadership was lost "
	      "while deciding: the outcome is unknown, read the state "
	      "again\"}");
	snprintf(path, sizeof path, "/proposal/%d", PROPOSER_E_CLOSING);
	check(rt, path, 503,
	      "{\"error\":\"unavailable\",\"message\":\"the agent is shutting "
	      "down\"}");
	snprintf(path, sizeof path, "/proposal/%d", PROPOSER_E_BUSY);
	check(rt, path, 409,
	      "{\"error\":\"busy\",\"message\":\"a membership change is "
	      "already in progress: retry shortly\"}");
	snprintf(path, sizeof path, "/proposal/%d", PROPOSER_E_NOT_LEADER);
	check(rt, path, 503,
	      "{\"error\":\"no_leader\",\"message\":\"this agent lost the "
	      "leadership: retry\"}");
	check(rt, "/proposal/-12", 500,
	      "{\"error\":\"internal\",\"message\":\"fake: -12\"}");

	check(rt, "/request", 413,
	      "{\"error\":\"too_large\",\"message\":\"body too large\"}");
	rt_stop(rt);
	free(rt);
	free(w.fsm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fsm_statuses),   cmocka_unit_test(store_statuses),
	    cmocka_unit_test(write_statuses), cmocka_unit_test(owner_api),
	    cmocka_unit_test(answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
