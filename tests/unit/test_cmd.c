/* Tests of consensus/cmd.c: the encoder of Raft commands. Each typed
 * constructor is decoded back field by field, and every one of them is run
 * through fsm_apply() to the state it is meant to reach. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "consensus/cmd.h"
#include "consensus/fsm.h"

#define T0 1700000000000ULL

static const struct cmd_ctx CTX = {.time_ms = T0, .who = "operator@host"};

/* Decode what a constructor packed (freed here); the message is the
 * caller's (poolpair__command__free_unpacked). */
static Poolpair__Command *decode(struct cmd_buf *b)
{
	Poolpair__Command *c;

	assert_non_null(b->buf);
	assert_true(b->len > 0);
	c = poolpair__command__unpack(NULL, b->len, b->buf);
	assert_non_null(c);
	cmd_buf_free(b);
	assert_null(b->buf);
	assert_int_equal(b->len, 0);
	return c;
}

/* Apply what a constructor packed (freed here); returns the code. */
static int apply(struct fsm *f, int packed, struct cmd_buf *b,
		 struct fsm_result *res)
{
	int rv;

	assert_int_equal(packed, 0);
	rv = fsm_apply(f, b->buf, b->len, res);
	cmd_buf_free(b);
	return rv;
}

/* ---- cmd_init, cmd_pack ---- */

static void init_sets_time_and_who(void **state)
{
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	(void)state;
	cmd_init(&c, &CTX, who);
	assert_int_equal(c.time_ms, T0);
	assert_string_equal(c.who, "operator@host");
	assert_ptr_equal(c.who, who);
	assert_int_equal(c.op_case, POOLPAIR__COMMAND__OP__NOT_SET);
}

static void init_cleans_who(void **state)
{
	struct cmd_ctx ctx = {.time_ms = 1};
	Poolpair__Command c;
	char who[FSM_WHO_LEN];
	char long_who[300];

	(void)state;
	ctx.who = NULL;
	cmd_init(&c, &ctx, who);
	assert_string_equal(c.who, "");

	/* control characters and bytes that are not UTF-8 become '?' */
	ctx.who = "a\nb\x7f"
		  "c\xff"
		  "d\xc3(";
	cmd_init(&c, &ctx, who);
	assert_string_equal(c.who, "a?b?c?d?(");

	/* valid UTF-8 is kept as it is */
	ctx.who = "j\xc3\xb6rg@h\xe2\x82\xac";
	cmd_init(&c, &ctx, who);
	assert_string_equal(c.who, "j\xc3\xb6rg@h\xe2\x82\xac");

	/* overlong encodings and surrogates are not valid UTF-8 */
	ctx.who = "\xe0\x80\xaf|\xed\xa0\x80";
	cmd_init(&c, &ctx, who);
	assert_string_equal(c.who, "???|???");

	/* cut to fit, never inside a character */
	memset(long_who, 'x', sizeof long_who);
	long_who[FSM_WHO_LEN - 2] = '\xc3';
	long_who[FSM_WHO_LEN - 1] = '\xb6';
	long_who[sizeof long_who - 1] = '\0';
	ctx.who = long_who;
	cmd_init(&c, &ctx, who);
	assert_int_equal(strlen(c.who), FSM_WHO_LEN - 2);
	assert_int_equal((unsigned char)c.who[FSM_WHO_LEN - 3], 'x');
}

static void pack_refuses_no_op(void **state)
{
	Poolpair__Command c;
	char who[FSM_WHO_LEN];
	struct cmd_buf b = {(void *)1, 1};

	(void)state;
	cmd_init(&c, &CTX, who);
	assert_int_equal(cmd_pack(&c, &b), CMD_E_INVALID);
	assert_null(b.buf);
	assert_int_equal(b.len, 0);
	assert_int_equal(cmd_pack(NULL, &b), CMD_E_INVALID);
	assert_string_equal(cmd_strerror(CMD_E_INVALID),
			    "command without an op");
	assert_string_equal(cmd_strerror(CMD_E_NOMEM), "out of memory");
	assert_string_equal(cmd_strerror(-1), "unknown error");
	cmd_buf_free(NULL);
}

static void pack_encodes_the_op(void **state)
{
	Poolpair__CmdAddSite op = POOLPAIR__CMD_ADD_SITE__INIT;
	Poolpair__Command c, *d;
	char who[FSM_WHO_LEN];
	struct cmd_buf b;

	(void)state;
	cmd_init(&c, &CTX, who);
	op.name = "east";
	c.op_case = POOLPAIR__COMMAND__OP_ADD_SITE;
	c.add_site = &op;
	assert_int_equal(cmd_pack(&c, &b), 0);
	d = decode(&b);
	assert_int_equal(d->time_ms, T0);
	assert_string_equal(d->who, "operator@host");
	assert_int_equal(d->op_case, POOLPAIR__COMMAND__OP_ADD_SITE);
	assert_string_equal(d->add_site->name, "east");
	poolpair__command__free_unpacked(d, NULL);
}

/* ---- constructors, decoded ---- */

static void failover_fields(void **state)
{
	struct cmd_failover f = {
	    .pool = "pool-east",
	    .planned = false,
	    .forced = true,
	    .automatic = true,
	    .reason = "disaster: pool-east silent for 2600 ms",
	    .risk = {.records = 7, .bytes = 700, .ms = 70},
	    .takeover = {.data_seq = 41, .content_seq = 3},
	};
	struct cmd_risk risk = {1, 2, 3};
	struct cmd_takeover at = {4, 5};
	Poolpair__Command *d;
	struct cmd_buf b;

	(void)state;
	assert_int_equal(cmd_failover_begin(&CTX, &f, &b), 0);
	d = decode(&b);
	assert_int_equal(d->time_ms, T0);
	assert_string_equal(d->who, "operator@host");
	assert_int_equal(d->op_case, POOLPAIR__COMMAND__OP_FAILOVER_BEGIN);
	assert_string_equal(d->failover_begin->pool, "pool-east");
	assert_false(d->failover_begin->planned);
	assert_true(d->failover_begin->forced);
	assert_true(d->failover_begin->automatic);
	assert_string_equal(d->failover_begin->reason, f.reason);
	assert_int_equal(d->failover_begin->data_at_risk_records, 7);
	assert_int_equal(d->failover_begin->data_at_risk_bytes, 700);
	assert_int_equal(d->failover_begin->data_at_risk_ms, 70);
	assert_int_equal(d->failover_begin->takeover_data_seq, 41);
	assert_int_equal(d->failover_begin->takeover_content_seq, 3);
	poolpair__command__free_unpacked(d, NULL);

	assert_int_equal(
	    cmd_failover_complete(&CTX, "pool-east", &risk, &at, &b), 0);
	d = decode(&b);
	assert_int_equal(d->op_case, POOLPAIR__COMMAND__OP_FAILOVER_COMPLETE);
	assert_string_equal(d->failover_complete->pool, "pool-east");
	assert_int_equal(d->failover_complete->data_at_risk_records, 1);
	assert_int_equal(d->failover_complete->data_at_risk_bytes, 2);
	assert_int_equal(d->failover_complete->data_at_risk_ms, 3);
	assert_int_equal(d->failover_complete->takeover_data_seq, 4);
	assert_int_equal(d->failover_complete->takeover_content_seq, 5);
	poolpair__command__free_unpacked(d, NULL);

	/* without risk and takeover: zeros */
	assert_int_equal(cmd_failover_complete(&CTX, "p", NULL, NULL, &b), 0);
	d = decode(&b);
	assert_int_equal(d->failover_complete->data_at_risk_records, 0);
	assert_int_equal(d->failover_complete->takeover_data_seq, 0);
	poolpair__command__free_unpacked(d, NULL);

	assert_int_equal(cmd_failover_abort(&CTX, "pool-east", "late", &b), 0);
	d = decode(&b);
	assert_int_equal(d->op_case, POOLPAIR__COMMAND__OP_FAILOVER_ABORT);
	assert_string_equal(d->failover_abort->pool, "pool-east");
	assert_string_equal(d->failover_abort->reason, "late");
	poolpair__command__free_unpacked(d, NULL);

	/* NULL strings encode "" */
	assert_int_equal(cmd_failover_abort(&CTX, NULL, NULL, &b), 0);
	d = decode(&b);
	assert_string_equal(d->failover_abort->pool, "");
	assert_string_equal(d->failover_abort->reason, "");
	poolpair__command__free_unpacked(d, NULL);
}

static void failback_fields(void **state)
{
	Poolpair__Command *d;
	struct cmd_buf b;

	(void)state;
	assert_int_equal(cmd_pool_recovering(&CTX, "pool-east", &b), 0);
	d = decode(&b);
	assert_int_equal(d->op_case, POOLPAIR__COMMAND__OP_POOL_RECOVERING);
	assert_string_equal(d->pool_recovering->pool, "pool-east");
	poolpair__command__free_unpacked(d, NULL);

	assert_int_equal(cmd_failback_begin(&CTX, "pool-east", true, &b), 0);
	d = decode(&b);
	assert_int_equal(d->op_case, POOLPAIR__COMMAND__OP_FAILBACK_BEGIN);
	assert_string_equal(d->failback_begin->pool, "pool-east");
	assert_true(d->failback_begin->forced);
	poolpair__command__free_unpacked(d, NULL);

	assert_int_equal(cmd_failback_complete(&CTX, "pool-east", &b), 0);
	d = decode(&b);
	assert_int_equal(d->op_case, POOLPAIR__COMMAND__OP_FAILBACK_COMPLETE);
	assert_string_equal(d->failback_complete->pool, "pool-east");
	poolpair__command__free_unpacked(d, NULL);

	assert_int_equal(cmd_failback_abort(&CTX, "pool-east", "slow", &b), 0);
	d = decode(&b);
	assert_int_equal(d->op_case, POOLPAIR__COMMAND__OP_FAILBACK_ABORT);
	assert_string_equal(d->failback_abort->pool, "pool-east");
	assert_string_equal(d->failback_abort->reason, "slow");
	poolpair__command__free_unpacked(d, NULL);
}

static void cms_fields(void **state)
{
	struct cmd_risk risk = {9, 99, 999};
	Poolpair__Command *d;
	struct cmd_buf b;

	(void)state;
	assert_int_equal(cmd_cms_failover(&CTX, false, true, &risk, "gone", &b),
			 0);
	d = decode(&b);
	assert_int_equal(d->op_case, POOLPAIR__COMMAND__OP_CMS_FAILOVER);
	assert_false(d->cms_failover->planned);
	assert_true(d->cms_failover->forced);
	assert_int_equal(d->cms_failover->data_at_risk_records, 9);
	assert_int_equal(d->cms_failover->data_at_risk_bytes, 99);
	assert_int_equal(d->cms_failover->data_at_risk_ms, 999);
	assert_string_equal(d->cms_failover->reason, "gone");
	poolpair__command__free_unpacked(d, NULL);

	assert_int_equal(cmd_cms_failover_complete(&CTX, 1234, &b), 0);
	d = decode(&b);
	assert_int_equal(d->op_case,
			 POOLPAIR__COMMAND__OP_CMS_FAILOVER_COMPLETE);
	assert_int_equal(d->cms_failover_complete->since_ms, 1234);
	poolpair__command__free_unpacked(d, NULL);

	assert_int_equal(cmd_cms_failover_abort(&CTX, 1234, "late", &b), 0);
	d = decode(&b);
	assert_int_equal(d->op_case, POOLPAIR__COMMAND__OP_CMS_FAILOVER_ABORT);
	assert_int_equal(d->cms_failover_abort->since_ms, 1234);
	assert_string_equal(d->cms_failover_abort->reason, "late");
	poolpair__command__free_unpacked(d, NULL);
}

static void event_and_policy_fields(void **state)
{
	struct cmd_event e = {.what = "hook fence for pool-east",
			      .detail = "exit 0",
			      .ok = true,
			      .forced = false,
			      .keep = true};
	struct cmd_policy p = {.failover = "auto",
			       .max_lag_on_failover_ms = 300,
			       .cooldown_ms = 5000,
			       .merge = true,
			       .has_failover = true,
			       .has_max_lag = false,
			       .has_cooldown = true,
			       .if_never_set = true};
	Poolpair__Command *d;
	struct cmd_buf b;

	(void)state;
	assert_int_equal(cmd_record_event(&CTX, &e, &b), 0);
	d = decode(&b);
	assert_int_equal(d->op_case, POOLPAIR__COMMAND__OP_RECORD_EVENT);
	assert_string_equal(d->record_event->what, e.what);
	assert_string_equal(d->record_event->detail, "exit 0");
	assert_true(d->record_event->ok);
	assert_false(d->record_event->forced);
	assert_true(d->record_event->keep);
	poolpair__command__free_unpacked(d, NULL);

	assert_int_equal(cmd_set_policy(&CTX, &p, &b), 0);
	d = decode(&b);
	assert_int_equal(d->op_case, POOLPAIR__COMMAND__OP_SET_POLICY);
	assert_string_equal(d->set_policy->policy->failover, "auto");
	assert_int_equal(d->set_policy->policy->max_lag_on_failover_ms, 300);
	assert_int_equal(d->set_policy->policy->cooldown_ms, 5000);
	assert_true(d->set_policy->merge);
	assert_true(d->set_policy->has_failover);
	assert_false(d->set_policy->has_max_lag);
	assert_true(d->set_policy->has_cooldown);
	assert_true(d->set_policy->if_never_set);
	poolpair__command__free_unpacked(d, NULL);
}

/* ---- round trips through the state machine ---- */

/* Two sites, two pools alike, paired: pool-east hosts the CMS. */
static void topology(struct fsm *f)
{
	static const char *const sites[] = {"east", "west"};
	static const char *const pools[] = {"pool-east", "pool-west"};
	struct fsm_result res;

	fsm_init(f);
	for (int i = 0; i < 2; i++) {
		Poolpair__CmdAddSite s = POOLPAIR__CMD_ADD_SITE__INIT;
		Poolpair__CmdAddPool ap = POOLPAIR__CMD_ADD_POOL__INIT;
		Poolpair__Pool p = POOLPAIR__POOL__INIT;
		Poolpair__Command c;
		char who[FSM_WHO_LEN];
		struct cmd_buf b;

		cmd_init(&c, &CTX, who);
		s.name = (char *)sites[i];
		c.op_case = POOLPAIR__COMMAND__OP_ADD_SITE;
		c.add_site = &s;
		assert_int_equal(apply(f, cmd_pack(&c, &b), &b, &res), FSM_OK);

		cmd_init(&c, &CTX, who);
		p.name = (char *)pools[i];
		p.site = (char *)sites[i];
		p.edition = "enterprise";
		p.kind = "physical";
		p.os = "windows-2019";
		ap.pool = &p;
		c.op_case = POOLPAIR__COMMAND__OP_ADD_POOL;
		c.add_pool = &ap;
		assert_int_equal(apply(f, cmd_pack(&c, &b), &b, &res), FSM_OK);
	}
	{
		Poolpair__CmdPair pr = POOLPAIR__CMD_PAIR__INIT;
		Poolpair__Command c;
		char who[FSM_WHO_LEN];
		struct cmd_buf b;

		cmd_init(&c, &CTX, who);
		pr.a = "pool-east";
		pr.b = "pool-west";
		c.op_case = POOLPAIR__COMMAND__OP_PAIR;
		c.pair = &pr;
		assert_int_equal(apply(f, cmd_pack(&c, &b), &b, &res), FSM_OK);
	}
	assert_string_equal(f->cms_active, "pool-east");
}

static void round_trip_planned_failover_and_failback(void **state)
{
	struct fsm *f = calloc(1, sizeof *f);
	struct cmd_failover planned = {
	    .pool = "pool-east", .planned = true, .reason = "planned"};
	struct cmd_ctx ctx = {.time_ms = T0 + 5,
			      .who = "op\x01"
				     "erator"};
	struct cmd_risk risk = {0};
	struct cmd_takeover at = {0};
	const struct fsm_pool *p;
	const struct fsm_history *h;
	struct fsm_result res;
	struct cmd_buf b;

	(void)state;
	assert_non_null(f);
	topology(f);
	assert_int_equal(
	    apply(f, cmd_failover_begin(&ctx, &planned, &b), &b, &res), FSM_OK);
	p = fsm_pool_find(f, "pool-east");
	assert_int_equal(p->state, FSM_STATE_FAILING_OVER);
	assert_int_equal(p->failover_since_ms, T0 + 5);
	h = fsm_history_get(f, res.seq);
	assert_non_null(h);
	assert_string_equal(h->who, "op?erator");
	assert_int_equal(h->time_ms, T0 + 5);

	/* an abort takes it back to normal */
	assert_int_equal(
	    apply(f,
		  cmd_failover_abort(&ctx, "pool-east",
				     "the drain did not finish", &b),
		  &b, &res),
	    FSM_OK);
	assert_int_equal(p->state, FSM_STATE_NORMAL);
	assert_string_equal(p->last_failover_reason,
			    "the drain did not finish");

	/* again, to the end: owner = pair, epoch + 1, the CMS moves */
	assert_int_equal(
	    apply(f, cmd_failover_begin(&ctx, &planned, &b), &b, &res), FSM_OK);
	assert_int_equal(
	    apply(f, cmd_failover_complete(&ctx, "pool-east", &risk, &at, &b),
		  &b, &res),
	    FSM_OK);
	assert_int_equal(p->state, FSM_STATE_FAILED_OVER);
	assert_string_equal(p->owner, "pool-west");
	assert_int_equal(p->epoch, 2);
	assert_string_equal(f->cms_active, "pool-west");

	/* a step out of order is refused */
	assert_int_equal(
	    apply(f, cmd_failback_complete(&ctx, "pool-east", &b), &b, &res),
	    FSM_E_FAILED_OVER);

	assert_int_equal(
	    apply(f, cmd_pool_recovering(&ctx, "pool-east", &b), &b, &res),
	    FSM_OK);
	assert_int_equal(p->state, FSM_STATE_RECOVERING);
	assert_int_equal(apply(f,
			       cmd_failback_begin(&ctx, "pool-east", false, &b),
			       &b, &res),
			 FSM_OK);
	assert_int_equal(p->state, FSM_STATE_FAILING_BACK);
	assert_int_equal(
	    apply(f, cmd_failback_abort(&ctx, "pool-east", "slow", &b), &b,
		  &res),
	    FSM_OK);
	assert_int_equal(p->state, FSM_STATE_RECOVERING);
	assert_int_equal(apply(f,
			       cmd_failback_begin(&ctx, "pool-east", false, &b),
			       &b, &res),
			 FSM_OK);
	assert_int_equal(
	    apply(f, cmd_failback_complete(&ctx, "pool-east", &b), &b, &res),
	    FSM_OK);
	assert_int_equal(p->state, FSM_STATE_NORMAL);
	assert_string_equal(p->owner, "pool-east");
	assert_int_equal(p->epoch, 3);
	free(f);
}

static void round_trip_disaster_failover(void **state)
{
	struct fsm *f = calloc(1, sizeof *f);
	struct cmd_failover disaster = {
	    .pool = "pool-east",
	    .planned = false,
	    .automatic = true,
	    .reason = "disaster: pool-east silent for 2600 ms",
	    .risk = {.records = 25, .bytes = 766, .ms = 820},
	    .takeover = {.data_seq = 41, .content_seq = 3},
	};
	const struct fsm_pool *p;
	const struct fsm_history *h;
	struct fsm_result res;
	struct cmd_buf b;

	(void)state;
	assert_non_null(f);
	topology(f);
	assert_int_equal(
	    apply(f, cmd_failover_begin(&CTX, &disaster, &b), &b, &res),
	    FSM_OK);
	p = fsm_pool_find(f, "pool-east");
	assert_int_equal(p->state, FSM_STATE_FAILED_OVER);
	assert_string_equal(p->owner, "pool-west");
	assert_int_equal(p->takeover_seq[0], 41);
	assert_int_equal(p->takeover_seq[1], 3);
	assert_int_equal(p->last_auto_failover_ms, T0);
	h = fsm_history_get(f, res.seq);
	assert_non_null(h);
	assert_true(h->forced);
	assert_int_equal(h->data_at_risk_records, 25);
	assert_int_equal(h->data_at_risk_bytes, 766);
	assert_int_equal(h->data_at_risk_ms, 820);
	free(f);
}

static void round_trip_cms_moves(void **state)
{
	struct fsm *f = calloc(1, sizeof *f);
	struct cmd_ctx later = {.time_ms = T0 + 100, .who = "leader:drained"};
	struct cmd_risk risk = {3, 30, 300};
	const struct fsm_history *h;
	struct fsm_result res;
	struct cmd_buf b;

	(void)state;
	assert_non_null(f);
	topology(f);
	/* planned, aborted */
	assert_int_equal(
	    apply(f, cmd_cms_failover(&CTX, true, false, NULL, "planned", &b),
		  &b, &res),
	    FSM_OK);
	assert_int_equal(f->cms_state, FSM_STATE_FAILING_OVER);
	assert_int_equal(f->cms_since_ms, T0);
	/* the end of another move is refused */
	assert_int_equal(
	    apply(f, cmd_cms_failover_complete(&later, T0 - 1, &b), &b, &res),
	    FSM_E_CMS_MOVING);
	assert_int_equal(
	    apply(f, cmd_cms_failover_abort(&later, T0, "late", &b), &b, &res),
	    FSM_OK);
	assert_int_equal(f->cms_state, FSM_STATE_NORMAL);
	assert_string_equal(f->cms_active, "pool-east");

	/* planned, completed */
	assert_int_equal(
	    apply(f, cmd_cms_failover(&CTX, true, false, NULL, "planned", &b),
		  &b, &res),
	    FSM_OK);
	assert_int_equal(
	    apply(f, cmd_cms_failover_complete(&later, T0, &b), &b, &res),
	    FSM_OK);
	assert_string_equal(f->cms_active, "pool-west");
	assert_int_equal(f->cms_epoch, 2);

	/* disaster back, forced, with its data at risk */
	assert_int_equal(
	    apply(f, cmd_cms_failover(&CTX, false, true, &risk, "disaster", &b),
		  &b, &res),
	    FSM_OK);
	assert_string_equal(f->cms_active, "pool-east");
	assert_int_equal(f->cms_epoch, 3);
	h = fsm_history_get(f, res.seq);
	assert_non_null(h);
	assert_true(h->forced);
	assert_int_equal(h->data_at_risk_records, 3);
	assert_int_equal(h->data_at_risk_bytes, 30);
	assert_int_equal(h->data_at_risk_ms, 300);
	free(f);
}

static void round_trip_event_and_policy(void **state)
{
	struct fsm *f = calloc(1, sizeof *f);
	struct cmd_event e = {.what = "recover --force-quorum by op",
			      .ok = true,
			      .forced = true,
			      .keep = true};
	struct cmd_policy pol = {.failover = "auto",
				 .max_lag_on_failover_ms = 300,
				 .cooldown_ms = 5000,
				 .merge = true,
				 .has_max_lag = true,
				 .if_never_set = true};
	const struct fsm_history *h;
	struct fsm_result res;
	struct cmd_buf b;

	(void)state;
	assert_non_null(f);
	fsm_init(f);
	assert_int_equal(apply(f, cmd_record_event(&CTX, &e, &b), &b, &res),
			 FSM_OK);
	h = fsm_history_get(f, res.seq);
	assert_non_null(h);
	assert_string_equal(h->what, "recover --force-quorum by op");
	assert_true(h->forced);
	assert_true(h->kept);

	/* a failed event is recorded as refused */
	e.ok = false;
	e.keep = false;
	assert_int_equal(apply(f, cmd_record_event(&CTX, &e, &b), &b, &res),
			 FSM_E_REFUSED_EVENT);

	/* merge: only the flagged field */
	assert_int_equal(apply(f, cmd_set_policy(&CTX, &pol, &b), &b, &res),
			 FSM_OK);
	assert_true(f->policy.set);
	assert_int_equal(f->policy.max_lag_on_failover_ms, 300);
	assert_string_equal(f->policy.failover, "");
	assert_int_equal(f->policy.cooldown_ms, 60000);
	/* if_never_set: refused once a policy was set */
	assert_int_equal(apply(f, cmd_set_policy(&CTX, &pol, &b), &b, &res),
			 FSM_E_EXISTS);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(init_sets_time_and_who),
	    cmocka_unit_test(init_cleans_who),
	    cmocka_unit_test(pack_refuses_no_op),
	    cmocka_unit_test(pack_encodes_the_op),
	    cmocka_unit_test(failover_fields),
	    cmocka_unit_test(failback_fields),
	    cmocka_unit_test(cms_fields),
	    cmocka_unit_test(event_and_policy_fields),
	    cmocka_unit_test(round_trip_planned_failover_and_failback),
	    cmocka_unit_test(round_trip_disaster_failover),
	    cmocka_unit_test(round_trip_cms_moves),
	    cmocka_unit_test(round_trip_event_and_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
