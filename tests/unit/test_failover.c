/* Tests of agent/failover.c (with failover_peer.c): the leader's
 * decisions on failovers and failbacks, with fakes for everything around
 * them: a proposer that applies what is submitted to a real state machine
 * (consensus/fsm.h) when the test says so and records it, the liveness of
 * the pools, the data at risk and the clock; the pair's agent is a local
 * HTTP server reached through a real hclient. The tick is called by the
 * test (failover_tick), never by the timer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include "agent/failover.h"
#include "agent/hclient.h"
#include "agent/http.h"
#include "consensus/cmd.h"
#include "control.pb-c.h"

#define LEASE_MS 1000
#define GRACE_MS 500
#define T0_MS 1700000000000ull
#define MAX_SUBMITS 16

/* ---- the fixture ---- */

struct submitted {
	struct cmd_buf cmd;
	proposer_cb cb;
	void *arg;
};

/* What a decision that was committed said. */
struct decided {
	int op; /* POOLPAIR__COMMAND__OP_* */
	char who[FSM_WHO_LEN];
	char reason[FSM_REASON_LEN];
	bool forced, automatic, planned;
	uint64_t data_seq, content_seq, risk_records;
	int code; /* FSM_OK or the refusal */
};

struct fx {
	uv_loop_t loop;
	struct fsm fsm;
	/* fake proposer */
	struct proposer proposer;
	bool leader;
	struct submitted queue[MAX_SUBMITS];
	unsigned n_queued;
	struct decided decided[MAX_SUBMITS];
	unsigned n_decided;
	unsigned barrier_after[MAX_SUBMITS]; /* n_decided at each barrier */
	unsigned n_barriers;
	/* fake clock */
	struct clock clock;
	uint64_t wall_ms, mono_ns;
	/* fake liveness */
	uint64_t silence[2];	/* east, west */
	bool report_known[2][2]; /* [pool][user set]: east, west */
	struct failover_lag report[2][2];
	uint64_t report_age_ms;
	bool cms_report_known; /* east's report of the CMS documents */
	struct failover_lag cms_report;
	uint64_t leader_since_ns;
	bool lease_valid;
	unsigned measured;
	struct failover_local local; /* what the writer module says of east */
	/* the pair's agent */
	struct http_server server;
	struct hclient calls;
	unsigned server_requests;
	char last_path[256];
	char last_body[256];
	int takeover_status; /* what the pair answers the takeover */
	bool verify_equal;
	/* the module */
	struct failover fo;
	int closed;
};

static struct fx *g_fx; /* the handler's fixture */

static int pool_index(const char *name)
{
	if (strcmp(name, "east") == 0)
		return 0;
	if (strcmp(name, "west") == 0)
		return 1;
	if (strcmp(name, "cms") == 0)
		return -1;
	fail_msg("unknown pool %s", name);
	return -1;
}

/* proposer */

static int fake_submit(void *impl, struct cmd_buf *cmd, proposer_cb cb,
		       void *arg)
{
	struct fx *fx = impl;
	struct submitted *s;

	if (!fx->leader) {
		cmd_buf_free(cmd);
		return PROPOSER_E_NOT_LEADER;
	}
	assert_true(fx->n_queued < MAX_SUBMITS);
	s = &fx->queue[fx->n_queued++];
	s->cmd = *cmd;
	cmd->buf = NULL;
	cmd->len = 0;
	s->cb = cb;
	s->arg = arg;
	return 0;
}

/* A barrier is answered at once (the fake log has nothing uncommitted);
 * recorded with how many decisions were committed before it. */
static int fake_barrier(void *impl, proposer_done_cb cb, void *arg)
{
	struct fx *fx = impl;

	if (!fx->leader)
		return PROPOSER_E_NOT_LEADER;
	assert_true(fx->n_barriers < MAX_SUBMITS);
	fx->barrier_after[fx->n_barriers++] = fx->n_decided;
	cb(arg, 0);
	return 0;
}

static bool fake_is_leader(void *impl)
{
	return ((struct fx *)impl)->leader;
}

static uint64_t fake_leader(void *impl, const char **api)
{
	if (api != NULL)
		*api = "";
	return ((struct fx *)impl)->leader ? 1 : 0;
}

static uint64_t fake_zero(void *impl)
{
	(void)impl;
	return 0;
}

static void fake_strerror(void *impl, int rv, char *buf, size_t len)
{
	(void)impl;
	snprintf(buf, len, "fake error %d", rv);
}

static const struct proposer_ops fake_proposer_ops = {
    .submit = fake_submit,
    .barrier = fake_barrier,
    .is_leader = fake_is_leader,
    .leader = fake_leader,
    .term = fake_zero,
    .commit_index = fake_zero,
    .applied_index = fake_zero,
    .strerror = fake_strerror,
};

static void record(struct fx *fx, const struct submitted *s, int code)
{
	Poolpair__Command *c =
	    poolpair__command__unpack(NULL, s->cmd.len, s->cmd.buf);
	struct decided *d = &fx->decided[fx->n_decided++];

	assert_non_null(c);
	memset(d, 0, sizeof *d);
	d->op = c->op_case;
	d->code = code;
	snprintf(d->who, sizeof d->who, "%s", c->who);
	if (c->op_case == POOLPAIR__COMMAND__OP_FAILOVER_BEGIN) {
		d->planned = c->failover_begin->planned;
		d->forced = c->failover_begin->forced;
		d->automatic = c->failover_begin->automatic;
		snprintf(d->reason, sizeof d->reason, "%s",
			 c->failover_begin->reason);
		d->data_seq = c->failover_begin->takeover_data_seq;
		d->content_seq = c->failover_begin->takeover_content_seq;
		d->risk_records = c->failover_begin->data_at_risk_records;
	} else if (c->op_case == POOLPAIR__COMMAND__OP_FAILOVER_COMPLETE) {
		d->data_seq = c->failover_complete->takeover_data_seq;
		d->content_seq = c->failover_complete->takeover_content_seq;
	}
	poolpair__command__free_unpacked(c, NULL);
}

/* Commit everything submitted so far, in order: apply it to the state
 * machine, record it, answer the module. Returns how many. */
static unsigned commit(struct fx *fx)
{
	unsigned n = 0;

	while (fx->n_queued > 0) {
		struct submitted s = fx->queue[0];
		struct fsm_result res;

		memmove(&fx->queue[0], &fx->queue[1],
			--fx->n_queued * sizeof fx->queue[0]);
		memset(&res, 0, sizeof res);
		assert_int_equal(fsm_apply(&fx->fsm, s.cmd.buf, s.cmd.len, &res),
				 0);
		record(fx, &s, res.code);
		cmd_buf_free(&s.cmd);
		s.cb(s.arg, 0, &res);
		n++;
	}
	return n;
}

/* clock */

static uint64_t fake_wall(void *data)
{
	return ((struct fx *)data)->wall_ms;
}

static uint64_t fake_mono(void *data)
{
	return ((struct fx *)data)->mono_ns;
}

static void advance(struct fx *fx, uint64_t ms)
{
	fx->wall_ms += ms;
	fx->mono_ns += ms * 1000000ull;
}

/* liveness */

static uint64_t fake_silence(void *impl, const char *pool)
{
	return ((struct fx *)impl)->silence[pool_index(pool)];
}

static bool fake_report(void *impl, const char *pool, const char *user_set,
			uint64_t max_age_ms, struct failover_lag *lag,
			uint64_t *age_ms)
{
	struct fx *fx = impl;
	int p = pool_index(pool), u = pool_index(user_set);

	if (fx->report_age_ms > max_age_ms)
		return false;
	if (u < 0) {
		if (p != 0 || !fx->cms_report_known)
			return false;
		*lag = fx->cms_report;
	} else {
		if (!fx->report_known[p][u])
			return false;
		*lag = fx->report[p][u];
	}
	if (age_ms != NULL)
		*age_ms = fx->report_age_ms;
	return true;
}

static uint64_t fake_leader_since(void *impl)
{
	return ((struct fx *)impl)->leader_since_ns;
}

static bool fake_lease_valid(void *impl)
{
	return ((struct fx *)impl)->lease_valid;
}

static int fake_measure(void *impl, const char *pool, bool ask_live,
			risk_cb cb, void *arg)
{
	struct fx *fx = impl;
	struct risk_figure r;

	(void)ask_live;
	fx->measured++;
	memset(&r, 0, sizeof r);
	r.source = RISK_LAST_REPORT;
	r.records = fx->report[pool_index(pool)][pool_index(pool)].records;
	r.age_ms = fx->report_age_ms;
	cb(arg, &r);
	return 0;
}

static void fake_local_takeover(void *impl, const struct fsm_pool *p,
				struct failover_local *out)
{
	struct fx *fx = impl;

	if (strcmp(p->name, "east") == 0 && fx->local.name != NULL)
		*out = fx->local;
	else
		*out = (struct failover_local){.name = ""};
}

static const struct failover_liveness_ops fake_liveness_ops = {
    .silence_ms = fake_silence,
    .report = fake_report,
    .regime_since_ns = fake_leader_since,
    .lease_valid = fake_lease_valid,
    .measure = fake_measure,
    .local_takeover = fake_local_takeover,
};

static void fake_who(const struct http_request *req, char *out, size_t len)
{
	(void)req;
	snprintf(out, len, "operator@test");
}

/* the pair's agent */

static void pair_handler(struct http_request *req)
{
	struct fx *fx = g_fx;

	fx->server_requests++;
	snprintf(fx->last_path, sizeof fx->last_path, "%s %s", req->method,
		 req->path);
	snprintf(fx->last_body, sizeof fx->last_body, "%s", req->body);
	if (strcmp(req->path, "/v1/internal/takeover") == 0) {
		if (fx->takeover_status != 200)
			http_respond_error(req, fx->takeover_status, "no",
					   "refused");
		else
			http_respond_json(req, 200,
					  "{\"data_seq\":5,\"content_seq\":7,"
					  "\"pool\":\"west\"}",
					  NULL);
	} else if (strcmp(req->path, "/v1/backup/east/verify") == 0) {
		http_respond_json(req, 200,
				  fx->verify_equal
				      ? "{\"equal_after\":true,\"repaired\":2,"
					"\"differences_total\":2}"
				      : "{\"equal_after\":false,\"repaired\":0,"
					"\"differences_total\":2}",
				  NULL);
	} else if (strcmp(req->path, "/v1/pools/east/failback") == 0) {
		/* this server is also the leader's API */
		struct route_params rp = {.n = 1};

		rp.p[0].name = "pool";
		rp.p[0].name_len = 4;
		rp.p[0].value = "east";
		failover_route_failback(&fx->fo, req, &rp);
	} else {
		http_respond_error(req, 404, "not_found", "no such path");
	}
}

/* the state machine */

static void apply_cmd(struct fx *fx, Poolpair__Command *c)
{
	struct cmd_buf b;
	struct fsm_result res;

	assert_int_equal(cmd_pack(c, &b), 0);
	assert_int_equal(fsm_apply(&fx->fsm, b.buf, b.len, &res), 0);
	assert_int_equal(res.code, FSM_OK);
	cmd_buf_free(&b);
}

static void apply_buf(struct fx *fx, int packed, struct cmd_buf *b)
{
	struct fsm_result res;

	assert_int_equal(packed, 0);
	assert_int_equal(fsm_apply(&fx->fsm, b->buf, b->len, &res), 0);
	assert_int_equal(res.code, FSM_OK);
	cmd_buf_free(b);
}

static void topology(struct fx *fx, int pair_port)
{
	static const char *sites[] = {"east", "west"};
	char who[FSM_WHO_LEN], api[64];
	struct cmd_ctx ctx = {.time_ms = fx->wall_ms, .who = "test"};

	for (int i = 0; i < 2; i++) {
		Poolpair__Command c;
		Poolpair__CmdAddSite as;
		Poolpair__CmdAddPool ap;
		Poolpair__Pool p;

		cmd_init(&c, &ctx, who);
		poolpair__cmd_add_site__init(&as);
		as.name = (char *)sites[i];
		c.op_case = POOLPAIR__COMMAND__OP_ADD_SITE;
		c.add_site = &as;
		apply_cmd(fx, &c);

		cmd_init(&c, &ctx, who);
		poolpair__pool__init(&p);
		p.name = (char *)sites[i];
		p.site = (char *)sites[i];
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
	{
		Poolpair__Command c;
		Poolpair__CmdPair pr;

		cmd_init(&c, &ctx, who);
		poolpair__cmd_pair__init(&pr);
		pr.a = "east";
		pr.b = "west";
		c.op_case = POOLPAIR__COMMAND__OP_PAIR;
		c.pair = &pr;
		apply_cmd(fx, &c);
	}
	for (int i = 0; i < 2; i++) {
		Poolpair__Command c;
		Poolpair__CmdRegisterMember rm;
		Poolpair__Member m;
		char name[16], raft[32], data[32];

		snprintf(name, sizeof name, "%s-1", sites[i]);
		snprintf(raft, sizeof raft, "127.0.0.1:%d", 7001 + i);
		snprintf(data, sizeof data, "127.0.0.1:%d", 8001 + i);
		/* east's agent is never called; west's is the local server */
		snprintf(api, sizeof api, "127.0.0.1:%d",
			 i == 1 ? pair_port : 1);
		cmd_init(&c, &ctx, who);
		poolpair__member__init(&m);
		m.id = (uint64_t)i + 1;
		m.name = name;
		m.site = (char *)sites[i];
		m.pool = (char *)sites[i];
		m.raft_address = raft;
		m.data_address = data;
		m.api_address = api;
		poolpair__cmd_register_member__init(&rm);
		rm.member = &m;
		c.op_case = POOLPAIR__COMMAND__OP_REGISTER_MEMBER;
		c.register_member = &rm;
		apply_cmd(fx, &c);
	}
	/* each agent is its pool's writer: the one whose API is called */
	for (int i = 0; i < 2; i++) {
		struct cmd_writer w = {.pool = sites[i],
				       .member_id = (uint64_t)i + 1};
		struct cmd_buf b;

		apply_buf(fx, cmd_pool_writer(&ctx, &w, &b), &b);
	}
}

static void set_policy(struct fx *fx, const char *failover, uint32_t max_lag,
		       uint32_t cooldown)
{
	struct cmd_ctx ctx = {.time_ms = fx->wall_ms, .who = "test"};
	struct cmd_policy p = {.failover = failover,
			       .max_lag_on_failover_ms = max_lag,
			       .cooldown_ms = cooldown};
	struct cmd_buf b;

	apply_buf(fx, cmd_set_policy(&ctx, &p, &b), &b);
}

static const struct fsm_pool *east(struct fx *fx)
{
	const struct fsm_pool *p = fsm_pool_find(&fx->fsm, "east");

	assert_non_null(p);
	return p;
}

static struct fsm_pool *east_rw(struct fx *fx)
{
	return (struct fsm_pool *)east(fx);
}

static const struct failover_pool *slot_of(struct fx *fx, const char *pool)
{
	for (unsigned i = 0; i < fx->fo.n_pools; i++)
		if (strcmp(fx->fo.pools[i].pool, pool) == 0)
			return &fx->fo.pools[i];
	return NULL;
}

static int step_of(struct fx *fx, const char *pool)
{
	const struct failover_pool *fp = slot_of(fx, pool);

	return fp != NULL ? fp->step : FO_IDLE;
}

/* Run the loop until pool's call to the pair has its answer. */
static void run_call(struct fx *fx, const char *pool)
{
	for (int i = 0; i < 1000; i++) {
		int step = step_of(fx, pool);

		if (step != FO_TAKEOVER && step != FO_VERIFY)
			return;
		uv_run(&fx->loop, UV_RUN_ONCE);
	}
	fail_msg("the call to the pair never ended");
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);
	struct http_server_config sc = {.host = "127.0.0.1", .port = 0};
	struct failover_deps d;

	assert_non_null(fx);
	g_fx = fx;
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	fsm_init(&fx->fsm);
	fx->proposer = (struct proposer){&fake_proposer_ops, fx};
	fx->leader = true;
	fx->clock = (struct clock){fake_wall, fake_mono, fx};
	fx->wall_ms = T0_MS;
	fx->mono_ns = 1000ull * 1000000000ull;
	fx->leader_since_ns = fx->mono_ns - 60000ull * 1000000ull;
	fx->lease_valid = true;
	fx->silence[0] = fx->silence[1] = 100;
	fx->report_age_ms = 200;
	fx->takeover_status = 200;
	fx->verify_equal = true;
	assert_int_equal(
	    http_server_init(&fx->server, &fx->loop, &sc, pair_handler, fx), 0);
	assert_int_equal(hclient_init(&fx->calls, &fx->loop, NULL), 0);
	topology(fx, http_server_port(&fx->server));
	d = (struct failover_deps){
	    .loop = &fx->loop,
	    .fsm = &fx->fsm,
	    .proposer = &fx->proposer,
	    .calls = &fx->calls,
	    .clock = &fx->clock,
	    .liveness = {&fake_liveness_ops, fx},
	    .who = fake_who,
	    .lease_ms = LEASE_MS,
	    .grace_ms = GRACE_MS,
	    .hook_timeout_ms = 1000,
	    .pre_failover = "",
	    .fence_command = "",
	    .on_owner_change = "",
	};
	assert_int_equal(failover_init(&fx->fo, &d), 0);
	*state = fx;
	return 0;
}

static void fo_closed(struct failover *fo)
{
	struct fx *fx = (struct fx *)((char *)fo - offsetof(struct fx, fo));

	fx->closed++;
}

static void server_closed(struct http_server *s)
{
	(void)s;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	assert_int_equal(failover_close(&fx->fo, fo_closed), 0);
	assert_int_equal(failover_close(&fx->fo, fo_closed), -EALREADY);
	hclient_close(&fx->calls, NULL);
	http_server_close(&fx->server, server_closed);
	assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(fx->closed, 1);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	for (unsigned i = 0; i < fx->n_queued; i++)
		cmd_buf_free(&fx->queue[i].cmd);
	free(fx);
	return 0;
}

/* The operator's planned failover of east, as the API commits it. */
static void begin_planned(struct fx *fx)
{
	struct cmd_ctx ctx = {.time_ms = fx->wall_ms, .who = "operator@test"};
	struct cmd_failover f = {.pool = "east",
				 .planned = true,
				 .reason = "planned"};
	struct cmd_buf b;

	apply_buf(fx, cmd_failover_begin(&ctx, &f, &b), &b);
	assert_int_equal(east(fx)->state, FSM_STATE_FAILING_OVER);
}

/* ---- planned failover ---- */

static void test_planned_waits_for_the_drain(void **state)
{
	struct fx *fx = *state;

	begin_planned(fx);
	fx->report_known[0][0] = true;
	fx->report[0][0] = (struct failover_lag){.records = 3, .bytes = 30, .ms = 40, .drained = false};
	advance(fx, 1000);
	failover_tick(&fx->fo);
	assert_int_equal(step_of(fx, "east"), FO_IDLE);
	assert_int_equal(fx->n_queued, 0);
	assert_int_equal(fx->server_requests, 0);
	assert_int_equal(east(fx)->state, FSM_STATE_FAILING_OVER);
}

static void test_planned_drained_completes(void **state)
{
	struct fx *fx = *state;

	begin_planned(fx);
	fx->report_known[0][0] = true;
	fx->report[0][0] = (struct failover_lag){.records = 0, .bytes = 0, .ms = 0, .drained = true};
	failover_tick(&fx->fo);
	/* the data at risk measured, then the takeover asked at west */
	assert_int_equal(fx->measured, 1);
	assert_int_equal(step_of(fx, "east"), FO_TAKEOVER);
	run_call(fx, "east");
	assert_string_equal(fx->last_path, "POST /v1/internal/takeover");
	assert_string_equal(fx->last_body, "{\"user_set\":\"east\"}");
	assert_int_equal(step_of(fx, "east"), FO_PROPOSING);
	assert_int_equal(commit(fx), 1);
	assert_int_equal(fx->decided[0].op,
			 POOLPAIR__COMMAND__OP_FAILOVER_COMPLETE);
	assert_int_equal(fx->decided[0].code, FSM_OK);
	assert_string_equal(fx->decided[0].who, "leader:drained");
	assert_int_equal(fx->decided[0].data_seq, 5);
	assert_int_equal(fx->decided[0].content_seq, 7);
	assert_int_equal(east(fx)->state, FSM_STATE_FAILED_OVER);
	assert_string_equal(east(fx)->owner, "west");
	assert_int_equal(step_of(fx, "east"), FO_IDLE);
}

/* Every agent applies a decision at once: the leader sends a barrier
 * right after each one commits (libraft tells the followers of a commit
 * only with its next message to them), not at the next heartbeat. */
static void test_planned_decision_pushed_at_once(void **state)
{
	struct fx *fx = *state;

	begin_planned(fx);
	fx->report_known[0][0] = true;
	fx->report[0][0] = (struct failover_lag){.records = 0, .bytes = 0, .ms = 0, .drained = true};
	failover_tick(&fx->fo);
	run_call(fx, "east");
	assert_int_equal(step_of(fx, "east"), FO_PROPOSING);
	assert_int_equal(fx->n_barriers, 0); /* nothing committed yet */
	assert_int_equal(commit(fx), 1);
	assert_int_equal(fx->decided[0].op,
			 POOLPAIR__COMMAND__OP_FAILOVER_COMPLETE);
	assert_int_equal(fx->n_barriers, 1);
	assert_int_equal(fx->barrier_after[0], 1);
}

static void test_planned_cms_must_drain_too(void **state)
{
	struct fx *fx = *state;
	struct cmd_ctx ctx = {.time_ms = fx->wall_ms, .who = "test"};
	char who[FSM_WHO_LEN];
	Poolpair__Command c;
	Poolpair__CmdCmsPlace cp;

	cmd_init(&c, &ctx, who);
	poolpair__cmd_cms_place__init(&cp);
	cp.pool = "east";
	c.op_case = POOLPAIR__COMMAND__OP_CMS_PLACE;
	c.cms_place = &cp;
	apply_cmd(fx, &c);
	assert_string_equal(fx->fsm.cms_active, "east");
	begin_planned(fx);
	fx->report_known[0][0] = true;
	fx->report[0][0] = (struct failover_lag){.records = 0, .bytes = 0, .ms = 0, .drained = true};
	/* east's user set drained, the CMS documents not yet */
	fx->cms_report_known = true;
	fx->cms_report = (struct failover_lag){.records = 1, .bytes = 100, .ms = 5, .drained = false};
	failover_tick(&fx->fo);
	assert_int_equal(step_of(fx, "east"), FO_IDLE);
	assert_int_equal(fx->server_requests, 0);
	fx->cms_report.drained = true;
	failover_tick(&fx->fo);
	assert_int_equal(step_of(fx, "east"), FO_TAKEOVER);
	run_call(fx, "east");
	assert_int_equal(commit(fx), 1);
	assert_int_equal(fx->decided[0].op,
			 POOLPAIR__COMMAND__OP_FAILOVER_COMPLETE);
	assert_string_equal(fx->fsm.cms_active, "west");
}

static void test_planned_timeout_aborts(void **state)
{
	struct fx *fx = *state;

	begin_planned(fx);
	fx->report_known[0][0] = true;
	fx->report[0][0] = (struct failover_lag){.records = 3, .bytes = 30, .ms = 40, .drained = false};
	advance(fx, 29000);
	failover_tick(&fx->fo);
	assert_int_equal(fx->n_queued, 0);
	advance(fx, 1001);
	failover_tick(&fx->fo);
	assert_int_equal(step_of(fx, "east"), FO_PROPOSING);
	assert_int_equal(commit(fx), 1);
	assert_int_equal(fx->decided[0].op,
			 POOLPAIR__COMMAND__OP_FAILOVER_ABORT);
	assert_string_equal(fx->decided[0].who, "leader:timeout");
	assert_int_equal(east(fx)->state, FSM_STATE_NORMAL);
	assert_string_equal(east(fx)->owner, "east");
	assert_int_equal(fx->server_requests, 0);
	assert_int_equal(step_of(fx, "east"), FO_IDLE);
}

static void test_planned_takeover_refused(void **state)
{
	struct fx *fx = *state;

	begin_planned(fx);
	fx->report_known[0][0] = true;
	fx->report[0][0] = (struct failover_lag){.records = 0, .bytes = 0, .ms = 0, .drained = true};
	fx->takeover_status = 409;
	failover_tick(&fx->fo);
	run_call(fx, "east");
	assert_int_equal(fx->server_requests, 1);
	assert_int_equal(fx->n_queued, 0);
	assert_int_equal(step_of(fx, "east"), FO_IDLE);
	assert_non_null(strstr(slot_of(fx, "east")->refusal,
			       "did not confirm the takeover"));
	assert_int_equal(east(fx)->state, FSM_STATE_FAILING_OVER);
}

/* ---- disaster ---- */

static void test_disaster_waits_for_the_lease(void **state)
{
	struct fx *fx = *state;

	fx->silence[0] = LEASE_MS + GRACE_MS; /* not surely out yet */
	assert_false(failover_disaster(&fx->fo, "east", "operator@test",
				       false));
	assert_int_equal(fx->measured, 0);
	assert_int_equal(fx->n_queued, 0);
	assert_false(failover_disaster(&fx->fo, "nowhere", "operator@test",
				       true));
}

static void test_disaster_commits(void **state)
{
	struct fx *fx = *state;

	fx->silence[0] = 5000;
	fx->report_known[0][0] = true;
	fx->report[0][0] = (struct failover_lag){.records = 4, .bytes = 40, .ms = 400, .drained = false};
	assert_true(failover_disaster(&fx->fo, "east", "operator@test",
				      false));
	assert_int_equal(step_of(fx, "east"), FO_TAKEOVER);
	/* a second ask while it runs starts nothing */
	assert_false(failover_disaster(&fx->fo, "east", "operator@test",
				       true));
	run_call(fx, "east");
	assert_int_equal(commit(fx), 1);
	assert_int_equal(fx->decided[0].op,
			 POOLPAIR__COMMAND__OP_FAILOVER_BEGIN);
	assert_false(fx->decided[0].planned);
	assert_true(fx->decided[0].forced);
	assert_false(fx->decided[0].automatic);
	assert_string_equal(fx->decided[0].who, "operator@test");
	assert_non_null(
	    strstr(fx->decided[0].reason, "disaster: east silent for 5000 ms"));
	assert_non_null(strstr(fx->decided[0].reason, "as last reported"));
	assert_int_equal(fx->decided[0].risk_records, 4);
	assert_int_equal(fx->decided[0].data_seq, 5);
	assert_int_equal(east(fx)->state, FSM_STATE_FAILED_OVER);
	assert_string_equal(east(fx)->owner, "west");
}

/* Not while a local takeover of the pool is being committed, even
 * forced: it comes first. */
static void test_disaster_waits_for_a_local_takeover(void **state)
{
	struct fx *fx = *state;

	fx->silence[0] = 5000;
	fx->local = (struct failover_local){.name = "east2", .inflight = true};
	assert_false(failover_disaster(&fx->fo, "east", "operator@test",
				       true));
	assert_int_equal(step_of(fx, "east"), FO_IDLE);
	fx->local.inflight = false;
	assert_true(failover_disaster(&fx->fo, "east", "operator@test",
				      false));
	assert_int_equal(step_of(fx, "east"), FO_TAKEOVER);
}

static void test_disaster_forced_while_alive(void **state)
{
	struct fx *fx = *state;

	fx->silence[0] = 10;
	assert_true(failover_disaster(&fx->fo, "east", "operator@test", true));
	run_call(fx, "east");
	assert_int_equal(commit(fx), 1);
	assert_true(fx->decided[0].forced);
	assert_int_equal(east(fx)->state, FSM_STATE_FAILED_OVER);
}

/* ---- automatic failover: the gates ---- */

/* east down, west heard, lag known and small, policy auto. */
static void auto_ready(struct fx *fx)
{
	set_policy(fx, "auto", 5000, 60000);
	fx->silence[0] = 5000;
	fx->silence[1] = 100;
	fx->report_known[0][0] = true;
	fx->report[0][0] = (struct failover_lag){.records = 2, .bytes = 20, .ms = 300, .drained = false};
}

/* A tick makes no move of east; its refusal contains why (NULL: no
 * reason given). */
static void expect_no_move(struct fx *fx, const char *why)
{
	failover_tick(&fx->fo);
	assert_int_equal(step_of(fx, "east"), FO_IDLE);
	assert_int_equal(fx->n_queued, 0);
	assert_int_equal(fx->server_requests, 0);
	assert_int_equal(fx->fo.automatic, 0);
	if (why != NULL)
		assert_non_null(strstr(failover_refusal(&fx->fo, "east"), why));
	assert_int_equal(east(fx)->state, FSM_STATE_NORMAL);
}

static void test_auto_moves_a_down_pool(void **state)
{
	struct fx *fx = *state;

	auto_ready(fx);
	failover_tick(&fx->fo);
	assert_int_equal(fx->fo.automatic, 1);
	assert_int_equal(step_of(fx, "east"), FO_TAKEOVER);
	run_call(fx, "east");
	assert_int_equal(commit(fx), 1);
	assert_int_equal(fx->decided[0].op,
			 POOLPAIR__COMMAND__OP_FAILOVER_BEGIN);
	assert_true(fx->decided[0].automatic);
	assert_true(fx->decided[0].forced);
	assert_string_equal(fx->decided[0].who, "leader:auto");
	assert_int_equal(fx->decided[0].risk_records, 2);
	assert_non_null(
	    strstr(fx->decided[0].reason, "automatic: east silent for 5000"));
	assert_int_equal(east(fx)->state, FSM_STATE_FAILED_OVER);
	/* never an automatic failback: failed over, nothing more */
	failover_tick(&fx->fo);
	assert_int_equal(fx->n_queued, 0);
}

/* east's writer down while its synchronous standby is alive and reported
 * its positions: no failover, a local takeover comes first; none either
 * while a local takeover is being committed, even when the standby has
 * gone silent since. */
static void test_auto_held_for_a_local_takeover(void **state)
{
	struct fx *fx = *state;

	auto_ready(fx);
	fx->local = (struct failover_local){
	    .name = "east2", .silent_ms = LEASE_MS, .positions = true};
	expect_no_move(fx, "synchronous standby east2 is alive");
	assert_true(slot_of(fx, "east")->holding);
	expect_no_move(fx, "a local takeover comes first, no failover to west");
	fx->local.silent_ms = LEASE_MS + 1;
	fx->local.inflight = true;
	expect_no_move(fx, "local takeover by its synchronous standby east2 "
			   "is being committed");
}

/* The hold ends with the standby: silent longer than the lease (or its
 * positions unknown, or no sync standby), east fails over as before. */
static void test_auto_not_held_without_a_live_standby(void **state)
{
	struct fx *fx = *state;

	auto_ready(fx);
	fx->local = (struct failover_local){
	    .name = "east2", .silent_ms = 100, .positions = true};
	expect_no_move(fx, "east2 is alive");
	fx->local.silent_ms = LEASE_MS + 1;
	failover_tick(&fx->fo);
	assert_false(slot_of(fx, "east")->holding);
	assert_int_equal(fx->fo.automatic, 1);
	assert_int_equal(step_of(fx, "east"), FO_TAKEOVER);
	run_call(fx, "east");
	assert_int_equal(commit(fx), 1);
	assert_int_equal(fx->decided[0].op,
			 POOLPAIR__COMMAND__OP_FAILOVER_BEGIN);
}

static void test_auto_not_held_without_positions(void **state)
{
	struct fx *fx = *state;

	auto_ready(fx);
	fx->local = (struct failover_local){
	    .name = "east2", .silent_ms = 100, .positions = false};
	failover_tick(&fx->fo);
	assert_int_equal(fx->fo.automatic, 1);
	assert_int_equal(step_of(fx, "east"), FO_TAKEOVER);
}

/* A local takeover waits while a move of the pool is under way. */
static void test_moving(void **state)
{
	struct fx *fx = *state;

	auto_ready(fx);
	assert_false(failover_moving(&fx->fo, "east"));
	failover_tick(&fx->fo);
	assert_int_equal(step_of(fx, "east"), FO_TAKEOVER);
	assert_true(failover_moving(&fx->fo, "east"));
	assert_false(failover_moving(&fx->fo, "west"));
	run_call(fx, "east");
	assert_int_equal(commit(fx), 1);
	assert_false(failover_moving(&fx->fo, "east"));
}

static void test_auto_manual_policy(void **state)
{
	struct fx *fx = *state;

	auto_ready(fx);
	set_policy(fx, "manual", 5000, 60000);
	expect_no_move(fx, NULL);
}

static void test_auto_healthy(void **state)
{
	struct fx *fx = *state;

	auto_ready(fx);
	fx->silence[0] = LEASE_MS + GRACE_MS;
	expect_no_move(fx, NULL);
	assert_string_equal(failover_refusal(&fx->fo, "east"), "");
}

static void test_auto_paused(void **state)
{
	struct fx *fx = *state;

	auto_ready(fx);
	east_rw(fx)->paused = true;
	expect_no_move(fx, "paused");
}

static void test_auto_pair_without_lease(void **state)
{
	struct fx *fx = *state;

	auto_ready(fx);
	fx->silence[1] = LEASE_MS + 1;
	expect_no_move(fx, "holds no lease");
}

static void test_auto_lag_over_max(void **state)
{
	struct fx *fx = *state;

	auto_ready(fx);
	fx->report[0][0].ms = 5001;
	expect_no_move(fx, "lag");
}

static void test_auto_lag_unknown(void **state)
{
	struct fx *fx = *state;

	auto_ready(fx);
	fx->report_known[0][0] = false;
	expect_no_move(fx, "lag");
}

static void test_auto_cooldown(void **state)
{
	struct fx *fx = *state;

	auto_ready(fx);
	east_rw(fx)->last_auto_failover_ms = fx->wall_ms - 59000;
	expect_no_move(fx, "cooldown");
	/* once the cooldown is over it goes */
	advance(fx, 1001);
	failover_tick(&fx->fo);
	assert_int_equal(step_of(fx, "east"), FO_TAKEOVER);
	run_call(fx, "east");
	assert_int_equal(commit(fx), 1);
	assert_true(fx->decided[0].automatic);
}

static void test_auto_fresh_leader_waits(void **state)
{
	struct fx *fx = *state;

	auto_ready(fx);
	fx->leader_since_ns = fx->mono_ns - 1000ull * 1000000ull;
	expect_no_move(fx, NULL);
	/* one full lease + grace after it was elected, it goes */
	advance(fx, 501);
	failover_tick(&fx->fo);
	assert_int_equal(step_of(fx, "east"), FO_TAKEOVER);
}

static void test_auto_needs_authority(void **state)
{
	struct fx *fx = *state;

	auto_ready(fx);
	fx->lease_valid = false;
	expect_no_move(fx, NULL);
	fx->lease_valid = true;
	fx->leader = false;
	expect_no_move(fx, NULL);
	fx->leader = true;
	fx->leader_since_ns = 0;
	expect_no_move(fx, NULL);
}

static void test_auto_retry_after_a_failed_attempt(void **state)
{
	struct fx *fx = *state;

	auto_ready(fx);
	fx->takeover_status = 503;
	failover_tick(&fx->fo);
	run_call(fx, "east");
	assert_int_equal(step_of(fx, "east"), FO_IDLE);
	assert_int_equal(fx->server_requests, 1);
	/* not again at once */
	failover_tick(&fx->fo);
	assert_int_equal(fx->server_requests, 1);
	assert_int_equal(step_of(fx, "east"), FO_IDLE);
	advance(fx, 2001);
	fx->takeover_status = 200;
	failover_tick(&fx->fo);
	run_call(fx, "east");
	assert_int_equal(fx->server_requests, 2);
	assert_int_equal(commit(fx), 1);
	assert_int_equal(east(fx)->state, FSM_STATE_FAILED_OVER);
}

/* ---- back: recovering, failback ---- */

/* east failed over by a disaster, then heard again: recovering. */
static void to_recovering(struct fx *fx)
{
	fx->silence[0] = 5000;
	assert_true(failover_disaster(&fx->fo, "east", "operator@test",
				      false));
	run_call(fx, "east");
	assert_int_equal(commit(fx), 1);
	assert_int_equal(east(fx)->state, FSM_STATE_FAILED_OVER);
	/* not heard: stays failed over */
	failover_tick(&fx->fo);
	assert_int_equal(fx->n_queued, 0);
	fx->silence[0] = 100;
	failover_tick(&fx->fo);
	assert_int_equal(commit(fx), 1);
	assert_int_equal(fx->decided[1].op,
			 POOLPAIR__COMMAND__OP_POOL_RECOVERING);
	assert_int_equal(east(fx)->state, FSM_STATE_RECOVERING);
}

static void begin_failback(struct fx *fx)
{
	struct cmd_ctx ctx = {.time_ms = fx->wall_ms, .who = "operator@test"};
	struct cmd_buf b;

	apply_buf(fx, cmd_failback_begin(&ctx, "east", false, &b), &b);
	assert_int_equal(east(fx)->state, FSM_STATE_FAILING_BACK);
}

static void test_failback_verifies_then_completes(void **state)
{
	struct fx *fx = *state;

	to_recovering(fx);
	begin_failback(fx);
	/* west has not drained east's user set back yet */
	fx->report_known[1][0] = true;
	fx->report[1][0] = (struct failover_lag){.records = 1, .bytes = 10, .ms = 10, .drained = false};
	failover_tick(&fx->fo);
	assert_int_equal(fx->n_queued, 0);
	assert_int_equal(step_of(fx, "east"), FO_IDLE);
	fx->report[1][0] = (struct failover_lag){.records = 0, .bytes = 0, .ms = 0, .drained = true};
	failover_tick(&fx->fo);
	assert_int_equal(step_of(fx, "east"), FO_VERIFY);
	run_call(fx, "east");
	assert_string_equal(fx->last_path, "POST /v1/backup/east/verify");
	assert_int_equal(commit(fx), 1);
	assert_int_equal(fx->decided[2].op,
			 POOLPAIR__COMMAND__OP_FAILBACK_COMPLETE);
	assert_int_equal(east(fx)->state, FSM_STATE_NORMAL);
	assert_string_equal(east(fx)->owner, "east");
}

static void test_failback_unequal_copies_wait(void **state)
{
	struct fx *fx = *state;
	unsigned asked;

	to_recovering(fx);
	begin_failback(fx);
	fx->report_known[1][0] = true;
	fx->report[1][0] = (struct failover_lag){.records = 0, .bytes = 0, .ms = 0, .drained = true};
	fx->verify_equal = false;
	failover_tick(&fx->fo);
	run_call(fx, "east");
	asked = fx->server_requests;
	assert_int_equal(fx->n_queued, 0);
	assert_int_equal(east(fx)->state, FSM_STATE_FAILING_BACK);
	/* asked again a second later, not at once */
	failover_tick(&fx->fo);
	assert_int_equal(fx->server_requests, asked);
	advance(fx, 1000);
	fx->verify_equal = true;
	failover_tick(&fx->fo);
	run_call(fx, "east");
	assert_int_equal(fx->server_requests, asked + 1);
	assert_int_equal(commit(fx), 1);
	assert_int_equal(east(fx)->state, FSM_STATE_NORMAL);
}

/* An API call on the fixture's server: status and body of the answer. */
struct api_answer {
	bool done;
	int status;
	char body[1024];
};

static void api_done(void *arg, int err, const struct hclient_response *resp)
{
	struct api_answer *a = arg;

	a->done = true;
	a->status = err != 0 ? -1 : resp->status;
	if (err == 0)
		snprintf(a->body, sizeof a->body, "%s", resp->body);
}

static int api_call(struct fx *fx, const char *method, const char *path,
		    struct api_answer *a)
{
	memset(a, 0, sizeof *a);
	assert_int_equal(hclient_request(&fx->calls, method, "127.0.0.1",
					 (uint16_t)http_server_port(&fx->server),
					 path, NULL, NULL, 0, 5000, api_done, a,
					 NULL),
			 0);
	for (int i = 0; i < 10000 && !a->done; i++)
		uv_run(&fx->loop, UV_RUN_ONCE);
	assert_true(a->done);
	return a->status;
}

/* While west seeds east's copy (east's store rebuilt after a site loss)
 * east is not caught up whatever the positions say: the failback is
 * refused naming the rebuild, and a failback under way waits. */
static void test_failback_refused_while_seeding(void **state)
{
	struct fx *fx = *state;
	struct api_answer a;
	unsigned asked;

	to_recovering(fx);
	fx->report_known[1][0] = true;
	fx->report[1][0] = (struct failover_lag){.records = 80000,
						 .seeding = true,
						 .seed_items = 120000,
						 .seed_items_total = 200000};
	assert_int_equal(
	    api_call(fx, "POST", "/v1/pools/east/failback", &a), 409);
	assert_non_null(strstr(a.body, "\"not_caught_up\""));
	assert_non_null(strstr(a.body, "east's copy is being rebuilt: 120000 "
				       "of 200000 items"));
	assert_int_equal(fx->n_queued, 0);
	/* the what-if says the same */
	assert_int_equal(api_call(fx, "POST",
				  "/v1/pools/east/failback?what_if=true", &a),
			 200);
	assert_non_null(strstr(a.body, "\"allowed\":false"));
	assert_non_null(strstr(a.body, "being rebuilt"));
	/* seeding even with no record left to acknowledge */
	fx->report[1][0].records = 0;
	assert_int_equal(
	    api_call(fx, "POST", "/v1/pools/east/failback", &a), 409);
	assert_non_null(strstr(a.body, "being rebuilt"));
	/* a failback begun anyway (forced) waits while the seed runs, even
	 * when a report says drained */
	begin_failback(fx);
	fx->report[1][0].drained = true;
	asked = fx->server_requests;
	failover_tick(&fx->fo);
	assert_int_equal(step_of(fx, "east"), FO_IDLE);
	assert_int_equal(fx->server_requests, asked); /* no verify asked */
	/* the seed ended, nothing left: the drain goes on to the verify */
	fx->report[1][0] = (struct failover_lag){.drained = true};
	failover_tick(&fx->fo);
	assert_int_equal(step_of(fx, "east"), FO_VERIFY);
	run_call(fx, "east");
	assert_int_equal(commit(fx), 1);
	assert_int_equal(east(fx)->state, FSM_STATE_NORMAL);
}

static void test_failback_allowed_once_caught_up(void **state)
{
	struct fx *fx = *state;
	struct api_answer a;

	to_recovering(fx);
	fx->report_known[1][0] = true;
	/* nothing left to acknowledge, but west's stream of east's user set
	 * is not connected (east's copy may be empty: before the handshake
	 * that starts its seed) */
	fx->report[1][0] = (struct failover_lag){.drained = true,
						 .disconnected = true};
	assert_int_equal(
	    api_call(fx, "POST", "/v1/pools/east/failback", &a), 409);
	assert_non_null(strstr(a.body, "\"not_caught_up\""));
	assert_non_null(strstr(a.body, "west's stream of east's user set to "
				       "east is not connected"));
	assert_int_equal(fx->n_queued, 0);
	fx->report[1][0] = (struct failover_lag){.drained = true};
	assert_int_equal(api_call(fx, "POST",
				  "/v1/pools/east/failback?what_if=true", &a),
			 200);
	assert_non_null(strstr(a.body, "\"allowed\":true"));
}

/* An automatic failover of a pool that was seeding its pair's copy is
 * refused: that copy lacks items until the seed ends. */
static void test_auto_refused_while_seeding(void **state)
{
	struct fx *fx = *state;

	auto_ready(fx);
	fx->report[0][0].seeding = true;
	fx->report[0][0].seed_items = 5;
	fx->report[0][0].seed_items_total = 9;
	expect_no_move(fx, "west's copy of it was being rebuilt: 5 of 9 items");
}

static void test_failback_timeout_aborts(void **state)
{
	struct fx *fx = *state;

	to_recovering(fx);
	begin_failback(fx);
	advance(fx, 30001);
	failover_tick(&fx->fo);
	assert_int_equal(commit(fx), 1);
	assert_int_equal(fx->decided[2].op,
			 POOLPAIR__COMMAND__OP_FAILBACK_ABORT);
	assert_int_equal(east(fx)->state, FSM_STATE_RECOVERING);
	assert_string_equal(east(fx)->owner, "west");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_planned_waits_for_the_drain),
	    T(test_planned_drained_completes),
	    T(test_planned_decision_pushed_at_once),
	    T(test_planned_cms_must_drain_too),
	    T(test_planned_timeout_aborts),
	    T(test_planned_takeover_refused),
	    T(test_disaster_waits_for_the_lease),
	    T(test_disaster_commits),
	    T(test_disaster_waits_for_a_local_takeover),
	    T(test_disaster_forced_while_alive),
	    T(test_auto_moves_a_down_pool),
	    T(test_auto_held_for_a_local_takeover),
	    T(test_auto_not_held_without_a_live_standby),
	    T(test_auto_not_held_without_positions),
	    T(test_moving),
	    T(test_auto_manual_policy),
	    T(test_auto_healthy),
	    T(test_auto_paused),
	    T(test_auto_pair_without_lease),
	    T(test_auto_lag_over_max),
	    T(test_auto_lag_unknown),
	    T(test_auto_cooldown),
	    T(test_auto_fresh_leader_waits),
	    T(test_auto_needs_authority),
	    T(test_auto_retry_after_a_failed_attempt),
	    T(test_failback_verifies_then_completes),
	    T(test_failback_unequal_copies_wait),
	    T(test_failback_timeout_aborts),
	    T(test_failback_refused_while_seeding),
	    T(test_failback_allowed_once_caught_up),
	    T(test_auto_refused_while_seeding),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
