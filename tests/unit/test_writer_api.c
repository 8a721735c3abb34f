/* Tests of agent/writer_api.c: POST /v1/internal/pool-sync and POST
 * /v1/pools/{pool}/writer, answered by the writer module over a real HTTP
 * server (http_roundtrip.h) and matched against the agent's route table,
 * with a proposer that applies each command to a real state machine
 * (consensus/fsm.h) at once, or fails it, as the test says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "agent/route.h"
#include "agent/writer.h"
#include "consensus/cmd.h"
#include "control.pb-c.h"
#include "http_roundtrip.h"

#define T0_MS 1700000000000ull
#define N_MEMBERS 4 /* 1 east-1, 2 east-2, 3 east-3 (pool east), 4 west-1 */

struct fx {
	struct fsm fsm;
	struct proposer proposer;
	struct clock clock;
	uint64_t wall_ms;
	int fail_with;		/* a proposer error for the next command */
	unsigned submitted;	/* commands submitted */
	char reason[FSM_REASON_LEN]; /* of the last pool_writer submitted */
	char who[FSM_WHO_LEN];	/* of the last command */
	bool pos_known[N_MEMBERS + 1];
	struct writer w;
	struct rt rt;
};

/* ---- fakes ---- */

static int fake_submit(void *impl, struct cmd_buf *cmd, proposer_cb cb,
		       void *arg)
{
	struct fx *fx = impl;
	struct fsm_result res;
	Poolpair__Command *c;

	fx->submitted++;
	c = poolpair__command__unpack(NULL, cmd->len, cmd->buf);
	assert_non_null(c);
	snprintf(fx->who, sizeof fx->who, "%s", c->who);
	if (c->op_case == POOLPAIR__COMMAND__OP_POOL_WRITER)
		snprintf(fx->reason, sizeof fx->reason, "%s",
			 c->pool_writer->reason);
	poolpair__command__free_unpacked(c, NULL);
	if (fx->fail_with != 0) {
		cmd_buf_free(cmd);
		cb(arg, fx->fail_with, NULL);
		fx->fail_with = 0;
		return 0;
	}
	fsm_apply(&fx->fsm, cmd->buf, cmd->len, &res);
	cmd_buf_free(cmd);
	cb(arg, 0, &res);
	return 0;
}

static int fake_barrier(void *impl, proposer_done_cb cb, void *arg)
{
	(void)impl;
	(void)cb;
	(void)arg;
	return PROPOSER_E_NOT_LEADER;
}

static bool fake_true(void *impl)
{
	(void)impl;
	return true;
}

static uint64_t fake_leader(void *impl, const char **api)
{
	(void)impl;
	if (api != NULL)
		*api = "";
	return 1;
}

static uint64_t fake_zero(void *impl)
{
	(void)impl;
	return 0;
}

static void fake_strerror(void *impl, int rv, char *buf, size_t len)
{
	(void)impl;
	snprintf(buf, len, "error %d", rv);
}

static const struct proposer_ops fake_proposer_ops = {
    .submit = fake_submit,
    .barrier = fake_barrier,
    .is_leader = fake_true,
    .leader = fake_leader,
    .term = fake_zero,
    .commit_index = fake_zero,
    .applied_index = fake_zero,
    .strerror = fake_strerror,
};

static uint64_t clock_wall(void *data) { return ((struct fx *)data)->wall_ms; }

static uint64_t clock_mono(void *data)
{
	return ((struct fx *)data)->wall_ms * 1000000ull;
}

static uint64_t fake_silent_ms(void *impl, uint64_t id)
{
	(void)impl;
	(void)id;
	return 0;
}

static bool fake_head(void *impl, uint64_t id, const char *pool, uint64_t *head)
{
	(void)impl;
	(void)id;
	(void)pool;
	(void)head;
	return false;
}

/* Member id's copies: (data, content) = (10 * id + 1, 10 * id + 2) of
 * every user set, when it reported them. */
static bool fake_position(void *impl, uint64_t id, const char *user_set,
			  int lane, uint64_t *seq)
{
	struct fx *fx = impl;

	(void)user_set;
	assert_true(id >= 1 && id <= N_MEMBERS);
	if (!fx->pos_known[id])
		return false;
	*seq = 10 * id + 1 + (uint64_t)lane;
	return true;
}

static bool fake_moving(void *impl, const char *pool)
{
	(void)impl;
	(void)pool;
	return false;
}

static const struct writer_members_ops fake_members_ops = {
    .silent_ms = fake_silent_ms,
    .head = fake_head,
    .may_decide = fake_true,
    .position = fake_position,
    .moving = fake_moving,
};

static void fake_who(const struct http_request *req, char *out, size_t len)
{
	(void)req;
	snprintf(out, len, "operator@test");
}

/* The agent's route table decides which handler answers. A request
 * with "X-Test-Cert: ID POOL" comes as over TLS with an agent certificate
 * naming agent ID of POOL ("-": none), as http_conn.c sets it. */
static void handle(struct http_request *req)
{
	struct fx *fx = req->data;
	const char *cert = http_request_header(req, "X-Test-Cert");
	struct route_params p;
	unsigned long long id;
	char pool[TLS_POOL_LEN];

	if (cert != NULL) {
		assert_int_equal(sscanf(cert, "%llu %63s", &id, pool), 2);
		req->tls = 1;
		req->role = TLS_ROLE_AGENT;
		req->peer_agent = id;
		snprintf(req->peer_pool, sizeof req->peer_pool, "%s",
			 strcmp(pool, "-") == 0 ? "" : pool);
		snprintf(req->identity, sizeof req->identity, "agent-%llu",
			 id);
	}

	if (route_match(agent_routes, agent_routes_count, req->method,
			req->raw_path, &p, NULL, 0) != 0) {
		http_respond_error(req, 404, "not_found", "no route");
		return;
	}
	assert_int_equal(p.route->module, ROUTE_MOD_WRITER);
	p.route->handler(&fx->w, req, &p);
	route_params_free(&p);
}

/* ---- the state machine ---- */

static void apply_cmd(struct fx *fx, Poolpair__Command *c)
{
	struct cmd_buf b;
	struct fsm_result res;

	assert_int_equal(cmd_pack(c, &b), 0);
	assert_int_equal(fsm_apply(&fx->fsm, b.buf, b.len, &res), 0);
	assert_int_equal(res.code, FSM_OK);
	cmd_buf_free(&b);
}

static void add_site_pool(struct fx *fx, const char *name)
{
	struct cmd_ctx ctx = {.time_ms = fx->wall_ms, .who = "test"};
	char who[FSM_WHO_LEN];
	Poolpair__Command c;
	Poolpair__CmdAddSite as;
	Poolpair__CmdAddPool ap;
	Poolpair__Pool p;

	cmd_init(&c, &ctx, who);
	poolpair__cmd_add_site__init(&as);
	as.name = (char *)name;
	c.op_case = POOLPAIR__COMMAND__OP_ADD_SITE;
	c.add_site = &as;
	apply_cmd(fx, &c);

	cmd_init(&c, &ctx, who);
	poolpair__pool__init(&p);
	p.name = (char *)name;
	p.site = (char *)name;
	p.edition = "enterprise";
	p.kind = "physical";
	p.os = "linux";
	p.capacity = 5000;
	poolpair__cmd_add_pool__init(&ap);
	ap.pool = &p;
	c.op_case = POOLPAIR__COMMAND__OP_ADD_POOL;
	c.add_pool = &ap;
	apply_cmd(fx, &c);
}

static void register_member(struct fx *fx, uint64_t id, const char *name,
			    const char *pool)
{
	struct cmd_ctx ctx = {.time_ms = fx->wall_ms, .who = "test"};
	char who[FSM_WHO_LEN], raft[32], data[32], api[32];
	Poolpair__Command c;
	Poolpair__CmdRegisterMember rm;
	Poolpair__Member m;

	snprintf(raft, sizeof raft, "127.0.0.1:%d", 7000 + (int)id);
	snprintf(data, sizeof data, "127.0.0.1:%d", 8000 + (int)id);
	snprintf(api, sizeof api, "127.0.0.1:%d", 9000 + (int)id);
	cmd_init(&c, &ctx, who);
	poolpair__member__init(&m);
	m.id = id;
	m.name = (char *)name;
	m.site = (char *)pool;
	m.pool = (char *)pool;
	m.raft_address = raft;
	m.data_address = data;
	m.api_address = api;
	poolpair__cmd_register_member__init(&rm);
	rm.member = &m;
	c.op_case = POOLPAIR__COMMAND__OP_REGISTER_MEMBER;
	c.register_member = &rm;
	apply_cmd(fx, &c);
}

static struct fsm_pool *east(struct fx *fx)
{
	struct fsm_pool *p = (struct fsm_pool *)fsm_pool_find(&fx->fsm, "east");

	assert_non_null(p);
	return p;
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);
	struct cmd_ctx ctx;
	struct cmd_writer cw = {
	    .pool = "east", .member_id = 1, .expect_token = 0, .reason = "t"};
	struct cmd_buf b;
	struct writer_deps d;

	assert_non_null(fx);
	fx->wall_ms = T0_MS;
	fsm_init(&fx->fsm);
	add_site_pool(fx, "east");
	add_site_pool(fx, "west");
	register_member(fx, 1, "east-1", "east");
	register_member(fx, 2, "east-2", "east");
	register_member(fx, 3, "east-3", "east");
	register_member(fx, 4, "west-1", "west");
	ctx = (struct cmd_ctx){.time_ms = fx->wall_ms, .who = "test"};
	assert_int_equal(cmd_pool_writer(&ctx, &cw, &b), 0);
	assert_int_equal(fsm_apply(&fx->fsm, b.buf, b.len, NULL), FSM_OK);
	cmd_buf_free(&b);
	assert_int_equal(east(fx)->writer, 1);
	assert_int_equal(east(fx)->writer_token, 1);
	fx->proposer = (struct proposer){&fake_proposer_ops, fx};
	fx->clock = (struct clock){clock_wall, clock_mono, fx};
	d = (struct writer_deps){
	    .fsm = &fx->fsm,
	    .proposer = &fx->proposer,
	    .clock = &fx->clock,
	    .members = {&fake_members_ops, fx},
	    .lease_ms = 1000,
	    .grace_ms = 500,
	    .who = fake_who,
	};
	writer_init(&fx->w, &d);
	rt_start(&fx->rt, handle, fx, NULL);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	rt_stop(&fx->rt);
	writer_close(&fx->w);
	free(fx);
	return 0;
}

/* POST path with body; the status; the answer's JSON in *out (owned). */
static int post(struct fx *fx, const char *path, const char *body,
		json_t **out)
{
	int status = rt_request(&fx->rt, "POST", path, NULL, body);

	*out = json_loads(rt_body(&fx->rt), 0, NULL);
	if (*out == NULL)
		fail_msg("not JSON: %s", rt_body(&fx->rt));
	return status;
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

static json_int_t num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

/* ---- POST /v1/internal/pool-sync ---- */

/* The writer's token names the sync standby: 200 with the committed
 * value; the same value again is accepted (decision 0); 0 clears it. */
static void test_pool_sync(void **state)
{
	struct fx *fx = *state;
	char type[64];
	json_t *a;

	assert_int_equal(post(fx, "/v1/internal/pool-sync",
			      "{\"pool\":\"east\",\"writer_token\":1,"
			      "\"standby\":2,\"reason\":\"east-2 in sync\"}",
			      &a),
			 200);
	assert_string_equal(
	    rt_header(&fx->rt, "Content-Type", type, sizeof type),
	    "application/json");
	assert_string_equal(str(a, "pool"), "east");
	assert_int_equal(num(a, "sync_standby"), 2);
	assert_true(num(a, "decision") > 0);
	json_decref(a);
	assert_int_equal(east(fx)->sync_standby, 2);
	assert_string_equal(fx->who, "operator@test");
	assert_int_equal(post(fx, "/v1/internal/pool-sync",
			      "{\"pool\":\"east\",\"writer_token\":1,"
			      "\"standby\":2}",
			      &a),
			 200);
	assert_int_equal(num(a, "sync_standby"), 2);
	assert_int_equal(num(a, "decision"), 0);
	json_decref(a);
	assert_int_equal(post(fx, "/v1/internal/pool-sync",
			      "{\"pool\":\"east\",\"writer_token\":1,"
			      "\"standby\":0,\"reason\":\"east-2 lost\"}",
			      &a),
			 200);
	assert_int_equal(num(a, "sync_standby"), 0);
	json_decref(a);
	assert_int_equal(east(fx)->sync_standby, 0);
}

/* With TLS, only the pool's writer may ask: its certificate must name the
 * writer (agent 1) of the pool (east); anyone else is refused 403 before
 * anything is proposed, the token notwithstanding. */
static void test_pool_sync_identity(void **state)
{
	static const char body[] = "{\"pool\":\"east\",\"writer_token\":1,"
				   "\"standby\":2,\"reason\":\"r\"}";
	struct fx *fx = *state;
	json_t *a;

	/* east-2, a standby of the pool */
	assert_int_equal(
	    rt_request(&fx->rt, "POST", "/v1/internal/pool-sync",
		       "X-Test-Cert: 2 east\r\n", body),
	    403);
	a = json_loads(rt_body(&fx->rt), 0, NULL);
	assert_non_null(a);
	assert_string_equal(str(a, "error"), "forbidden");
	assert_string_equal(str(a, "reason"),
			    "certificate speaks for agent 2, not 1: only the "
			    "pool's writer asks a pool-sync");
	json_decref(a);
	/* agent 1, but of another pool; a certificate naming no agent */
	assert_int_equal(
	    rt_request(&fx->rt, "POST", "/v1/internal/pool-sync",
		       "X-Test-Cert: 1 west\r\n", body),
	    403);
	assert_non_null(strstr(rt_body(&fx->rt),
			       "agent 1 of pool west, not of pool east"));
	assert_int_equal(
	    rt_request(&fx->rt, "POST", "/v1/internal/pool-sync",
		       "X-Test-Cert: 0 -\r\n", body),
	    403);
	assert_non_null(strstr(rt_body(&fx->rt), "speaks for no agent"));
	assert_int_equal(fx->submitted, 0);
	assert_int_equal(east(fx)->sync_standby, 0);
	/* the writer's own certificate */
	assert_int_equal(
	    rt_request(&fx->rt, "POST", "/v1/internal/pool-sync",
		       "X-Test-Cert: 1 east\r\n", body),
	    200);
	assert_int_equal(fx->submitted, 1);
	assert_int_equal(east(fx)->sync_standby, 2);
}

/* Refused by the state machine: 409 stale (another token) or refused
 * (anything else), with the value held; nothing changed. */
static void test_pool_sync_refused(void **state)
{
	struct fx *fx = *state;
	json_t *a;

	east(fx)->sync_standby = 3;
	assert_int_equal(post(fx, "/v1/internal/pool-sync",
			      "{\"pool\":\"east\",\"writer_token\":0,"
			      "\"standby\":2,\"reason\":\"r\"}",
			      &a),
			 409);
	assert_string_equal(str(a, "error"), "stale");
	assert_non_null(strstr(str(a, "message"), "changed since"));
	assert_int_equal(num(a, "sync_standby"), 3);
	json_decref(a);
	assert_int_equal(post(fx, "/v1/internal/pool-sync",
			      "{\"pool\":\"east\",\"writer_token\":1,"
			      "\"standby\":4,\"reason\":\"r\"}",
			      &a),
			 409);
	assert_string_equal(str(a, "error"), "refused");
	assert_int_equal(num(a, "sync_standby"), 3);
	json_decref(a);
	assert_int_equal(post(fx, "/v1/internal/pool-sync",
			      "{\"pool\":\"east\",\"writer_token\":1,"
			      "\"standby\":1,\"reason\":\"r\"}",
			      &a),
			 409);
	assert_string_equal(str(a, "error"), "refused");
	assert_non_null(strstr(str(a, "message"), "is the writer"));
	json_decref(a);
	assert_int_equal(east(fx)->sync_standby, 3);
}

/* An unknown outcome is 503 (ask again); a bad body is 400 and proposes
 * nothing. */
static void test_pool_sync_unknown_and_bad(void **state)
{
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{\"pool\":\"east\",\"writer_token\":1}",
	    "{\"pool\":\"east\",\"writer_token\":1,\"standby\":2,\"x\":1}",
	    "{\"pool\":\"east\",\"writer_token\":\"1\",\"standby\":2}",
	    "{\"pool\":\"east\",\"writer_token\":-1,\"standby\":2}",
	    "{\"pool\":\"east\",\"writer_token\":1,\"standby\":-2}",
	};
	struct fx *fx = *state;
	json_t *a;

	fx->fail_with = PROPOSER_E_UNKNOWN;
	assert_int_equal(post(fx, "/v1/internal/pool-sync",
			      "{\"pool\":\"east\",\"writer_token\":1,"
			      "\"standby\":2,\"reason\":\"r\"}",
			      &a),
			 503);
	assert_string_equal(str(a, "error"), "unavailable");
	json_decref(a);
	fx->submitted = 0;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(
		    post(fx, "/v1/internal/pool-sync", bad[i], &a), 400);
		json_decref(a);
	}
	assert_int_equal(fx->submitted, 0);
	assert_int_equal(east(fx)->sync_standby, 0);
}

/* ---- POST /v1/pools/{pool}/writer ---- */

/* Not the sync standby: 409 refused with the state machine's message,
 * nothing proposed; unknown pool or member: 404. */
static void test_writer_refused(void **state)
{
	struct fx *fx = *state;
	json_t *a;

	fx->pos_known[2] = fx->pos_known[3] = true;
	assert_int_equal(
	    post(fx, "/v1/pools/east/writer", "{\"member\":\"east-2\"}", &a),
	    409);
	assert_string_equal(str(a, "error"), "refused");
	assert_string_equal(str(a, "message"),
			    "east-2 is not caught up: the synchronous standby "
			    "of east is none");
	json_decref(a);
	east(fx)->sync_standby = 3;
	assert_int_equal(
	    post(fx, "/v1/pools/east/writer", "{\"member\":\"east-2\"}", &a),
	    409);
	assert_string_equal(str(a, "message"),
			    "east-2 is not caught up: the synchronous standby "
			    "of east is east-3");
	json_decref(a);
	assert_int_equal(
	    post(fx, "/v1/pools/east/writer", "{\"member\":\"east-9\"}", &a),
	    404);
	json_decref(a);
	assert_int_equal(
	    post(fx, "/v1/pools/north/writer", "{\"member\":\"east-2\"}", &a),
	    404);
	json_decref(a);
	assert_int_equal(
	    post(fx, "/v1/pools/east/writer", "{\"member\":2}", &a), 400);
	json_decref(a);
	assert_int_equal(fx->submitted, 0);
	assert_int_equal(east(fx)->writer, 1);
}

/* The sync standby: its positions are required (503 until reported);
 * then it is made writer over the token, with the reason "operator: ..."
 * and its positions recorded. */
static void test_writer_moved(void **state)
{
	struct fx *fx = *state;
	uint64_t epoch = east(fx)->epoch;
	json_t *a;

	east(fx)->sync_standby = 2;
	assert_int_equal(
	    post(fx, "/v1/pools/east/writer", "{\"member\":\"east-2\"}", &a),
	    503);
	assert_non_null(strstr(str(a, "message"), "east-2 reported no position"));
	json_decref(a);
	assert_int_equal(fx->submitted, 0);
	fx->pos_known[2] = true;
	assert_int_equal(
	    post(fx, "/v1/pools/east/writer", "{\"member\":\"east-2\"}", &a),
	    200);
	assert_string_equal(str(a, "pool"), "east");
	assert_int_equal(num(json_object_get(a, "writer"), "id"), 2);
	assert_string_equal(str(json_object_get(a, "writer"), "name"),
			    "east-2");
	assert_int_equal(num(a, "token"), 2);
	json_decref(a);
	assert_string_equal(fx->reason,
			    "operator: writer of east moved from east-1 to "
			    "east-2");
	assert_string_equal(fx->who, "operator@test");
	assert_int_equal(east(fx)->writer, 2);
	assert_int_equal(east(fx)->writer_token, 2);
	assert_int_equal(east(fx)->sync_standby, 0);
	assert_int_equal(east(fx)->epoch, epoch + 1);
	assert_int_equal(east(fx)->writer_seq[0], 21);
	assert_int_equal(east(fx)->writer_seq[1], 22);
	/* and back: east-1 is no sync standby now */
	assert_int_equal(
	    post(fx, "/v1/pools/east/writer", "{\"member\":\"east-1\"}", &a),
	    409);
	json_decref(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pool_sync, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pool_sync_identity, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pool_sync_refused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_pool_sync_unknown_and_bad,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_writer_refused, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_writer_moved, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
