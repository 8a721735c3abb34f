/* Tests of agent/recover.c: POST /v1/recover through a server on loopback
 * (http_roundtrip.h) with a fake Raft configuration, fake liveness, a fake
 * proposer and a data directory in /tmp: what it refuses (and that a
 * refusal writes nothing and restarts nothing), the file it writes and
 * recover_load() reading it back, the history note once leading. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/recover.h"
#include "consensus/cmd.h"
#include "http_roundtrip.h"

struct fake {
	char dir[64];
	struct raft_server servers[5];
	struct raft_configuration conf;
	bool heard[8]; /* by id */
	unsigned restarts;
	/* proposer */
	bool leader;
	unsigned submits;
	proposer_cb cb;
	void *cb_arg;
	char submitted_what[FSM_WHAT_LEN];
	bool submitted_forced;

	struct proposer proposer;
	struct clock clock;
	struct recover_host host;
	struct recover recover;
	struct rt rt;
};

/* ---- fakes ---- */

static const struct raft_configuration *host_configuration(void *impl)
{
	return &((struct fake *)impl)->conf;
}

static bool host_heard(void *impl, uint64_t id, uint64_t window_ms)
{
	struct fake *x = impl;

	assert_int_equal(window_ms, 2500); /* lease + grace */
	return id < 8 && x->heard[id];
}

static bool host_is_member(void *impl, uint64_t id)
{
	struct fake *x = impl;

	for (unsigned i = 0; i < x->conf.n; i++)
		if (x->conf.servers[i].id == id)
			return true;
	return false;
}

static void host_restart(void *impl) { ((struct fake *)impl)->restarts++; }

static const struct recover_host_ops host_ops = {
    .configuration = host_configuration,
    .heard = host_heard,
    .is_member = host_is_member,
    .restart = host_restart,
};

static int fake_submit(void *impl, struct cmd_buf *cmd, proposer_cb cb,
		       void *arg)
{
	struct fake *x = impl;
	Poolpair__Command *c =
	    poolpair__command__unpack(NULL, cmd->len, cmd->buf);

	assert_non_null(c);
	assert_int_equal(c->op_case, POOLPAIR__COMMAND__OP_RECORD_EVENT);
	snprintf(x->submitted_what, sizeof x->submitted_what, "%s",
		 c->record_event->what);
	x->submitted_forced = c->record_event->forced;
	poolpair__command__free_unpacked(c, NULL);
	cmd_buf_free(cmd);
	x->submits++;
	x->cb = cb;
	x->cb_arg = arg;
	return 0;
}

static int fake_barrier(void *impl, proposer_done_cb cb, void *arg)
{
	(void)impl, (void)cb, (void)arg;
	return PROPOSER_E_NOT_LEADER;
}

static bool fake_is_leader(void *impl) { return ((struct fake *)impl)->leader; }

static uint64_t fake_zero(void *impl)
{
	(void)impl;
	return 0;
}

static uint64_t fake_leader(void *impl, const char **api)
{
	(void)impl;
	if (api != NULL)
		*api = "";
	return 0;
}

static void fake_strerror(void *impl, int rv, char *buf, size_t len)
{
	(void)impl;
	snprintf(buf, len, "error %d", rv);
}

static const struct proposer_ops proposer_ops = {
    .submit = fake_submit,
    .barrier = fake_barrier,
    .is_leader = fake_is_leader,
    .leader = fake_leader,
    .term = fake_zero,
    .commit_index = fake_zero,
    .applied_index = fake_zero,
    .strerror = fake_strerror,
};

static uint64_t wall(void *data)
{
	(void)data;
	return 1764156817000ULL;
}

static uint64_t mono(void *data)
{
	(void)data;
	return 1;
}

static void who(const struct http_request *req, char *out, size_t len)
{
	const char *w = http_request_header(req, "X-Poolpair-Who");

	snprintf(out, len, "%s", w != NULL ? w : "api:test");
}

static void handle(struct http_request *req)
{
	struct fake *x = req->data;
	struct route_params p = {0};

	recover_route(&x->recover, req, &p);
}

/* ---- fixture ---- */

static void set_servers(struct fake *x, unsigned n, const int *roles)
{
	static const char *const addr[] = {"127.0.0.1:9001", "127.0.0.1:9002",
					   "127.0.0.1:9003", "127.0.0.1:9004",
					   "127.0.0.1:9005"};

	for (unsigned i = 0; i < n; i++) {
		x->servers[i].id = i + 1;
		x->servers[i].address = (char *)addr[i];
		x->servers[i].role = roles[i];
	}
	x->conf.n = n;
	x->conf.servers = x->servers;
}

static void make_recover(struct fake *x, const char *note)
{
	struct recover_deps d = {
	    .proposer = &x->proposer,
	    .clock = &x->clock,
	    .host = &x->host,
	    .who = who,
	    .self_id = 1,
	    .lease_ms = 2000,
	    .grace_ms = 500,
	};

	snprintf(d.data_dir, sizeof d.data_dir, "%s", x->dir);
	snprintf(d.note, sizeof d.note, "%s", note);
	assert_int_equal(recover_init(&x->recover, &d), 0);
}

static int setup(void **state)
{
	struct fake *x = calloc(1, sizeof *x);
	static const int roles[] = {RAFT_VOTER, RAFT_VOTER, RAFT_VOTER,
				    RAFT_STANDBY, RAFT_SPARE};

	assert_non_null(x);
	snprintf(x->dir, sizeof x->dir, "/tmp/test_recover.XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	set_servers(x, 5, roles);
	x->heard[1] = true; /* this agent */
	x->proposer = (struct proposer){.ops = &proposer_ops, .impl = x};
	x->clock = (struct clock){.wall_ms = wall, .mono_ns = mono};
	x->host = (struct recover_host){.ops = &host_ops, .impl = x};
	make_recover(x, "");
	rt_start(&x->rt, handle, x, NULL);
	*state = x;
	return 0;
}

static char *file_path(const struct fake *x, char *out, size_t len)
{
	snprintf(out, len, "%s/raft-recover.json", x->dir);
	return out;
}

static int teardown(void **state)
{
	struct fake *x = *state;
	char path[128];

	rt_stop(&x->rt);
	recover_close(&x->recover, NULL);
	unlink(file_path(x, path, sizeof path));
	rmdir(x->dir);
	free(x);
	return 0;
}

static bool file_exists(const struct fake *x)
{
	char path[128];

	return access(file_path(x, path, sizeof path), F_OK) == 0;
}

static int post(struct fake *x, const char *body)
{
	return rt_request(&x->rt, "POST", "/v1/recover",
			  "X-Poolpair-Who: op@test\r\n", body);
}

static const char *error_code(const struct fake *x, char *out, size_t len)
{
	json_t *b = json_loads(rt_body(&x->rt), 0, NULL);

	assert_non_null(b);
	snprintf(out, len, "%s",
		 json_string_value(json_object_get(b, "error")));
	json_decref(b);
	return out;
}

/* A refusal: status and code as given, nothing written, no restart. */
static void refused(struct fake *x, const char *body, int status,
		    const char *code)
{
	char got[64], type[64];

	assert_int_equal(post(x, body), status);
	assert_string_equal(error_code(x, got, sizeof got), code);
	assert_non_null(strstr(
	    rt_header(&x->rt, "Content-Type", type, sizeof type), "json"));
	assert_false(file_exists(x));
	assert_int_equal(x->restarts, 0);
}

/* ---- the refusals ---- */

static void test_refuses_without_force_quorum(void **state)
{
	struct fake *x = *state;

	/* the majority is lost: only the body stands in the way */
	refused(x, "", 400, "invalid");
	refused(x, "{", 400, "invalid");
	refused(x, "{}", 400, "invalid");
	refused(x, "{\"force_quorum\": false}", 400, "invalid");
	refused(x, "{\"force_quorum\": 1}", 400, "invalid");
	refused(x, "{\"force_quorum\": true, \"x\": 1}", 400, "invalid");
	refused(x, "{\"force_quorum\": true, \"force_quorum\": true}", 400,
		"invalid");
}

static void test_refuses_while_the_quorum_holds(void **state)
{
	struct fake *x = *state;

	/* 2 of 3 voters heard: a majority */
	x->heard[2] = true;
	refused(x, "{\"force_quorum\": true}", 409, "quorum_not_lost");
	assert_non_null(strstr(rt_body(&x->rt), "2 of 3 voters answer"));

	/* hearing the standby and the spare changes nothing: voters count */
	x->heard[2] = false;
	x->heard[4] = true;
	x->heard[5] = true;
	assert_int_equal(post(x, "{\"force_quorum\": true}"), 202);
}

static void test_refuses_without_voters(void **state)
{
	struct fake *x = *state;
	static const int roles[] = {RAFT_STANDBY, RAFT_SPARE};

	set_servers(x, 2, roles);
	refused(x, "{\"force_quorum\": true}", 409, "quorum_not_lost");
}

static void test_refuses_when_not_a_member(void **state)
{
	struct fake *x = *state;
	static const int roles[] = {RAFT_VOTER, RAFT_VOTER, RAFT_VOTER};

	/* this agent (1) is not in the configuration; 7 was heard, 2 and 3
	 * are lost */
	set_servers(x, 3, roles);
	x->servers[0].id = 7;
	x->heard[1] = false;
	x->heard[7] = true;
	refused(x, "{\"force_quorum\": true}", 409, "not_member");
}

static void test_refuses_when_nobody_was_heard(void **state)
{
	struct fake *x = *state;

	x->heard[1] = false;
	refused(x, "{\"force_quorum\": true}", 409, "not_member");
}

/* ---- the recovery ---- */

static void test_writes_the_survivors_and_restarts(void **state)
{
	struct fake *x = *state;
	struct node_config nc;
	char what[FSM_WHAT_LEN], err[256];
	json_t *b, *voters;

	x->heard[4] = true; /* the standby survives too */
	assert_int_equal(post(x, "{\"force_quorum\": true}"), 202);
	assert_int_equal(x->restarts, 1);
	b = json_loads(rt_body(&x->rt), 0, NULL);
	voters = json_object_get(b, "voters");
	assert_int_equal(json_array_size(voters), 2);
	assert_int_equal(json_integer_value(
			     json_object_get(json_array_get(voters, 0), "id")),
			 1);
	assert_int_equal(json_integer_value(
			     json_object_get(json_array_get(voters, 1), "id")),
			 4);
	assert_non_null(json_object_get(b, "warning"));
	json_decref(b);

	/* what the next start reads */
	memset(&nc, 0, sizeof nc);
	assert_int_equal(
	    recover_load(x->dir, &nc, what, sizeof what, err, sizeof err), 0);
	assert_int_equal(nc.n_recover, 2);
	assert_int_equal(nc.recover[0].id, 1);
	assert_string_equal(nc.recover[0].address, "127.0.0.1:9001");
	assert_int_equal(nc.recover[1].id, 4);
	assert_string_equal(nc.recover[1].address, "127.0.0.1:9004");
	assert_string_equal(what, "recover --force-quorum by op@test: voters "
				  "1,4 (2 of 3 old voters lost)");

	/* once started with it, the file goes */
	recover_close(&x->recover, NULL);
	make_recover(x, what);
	recover_started(&x->recover);
	assert_false(file_exists(x));
}

static void test_load_refuses_a_broken_file(void **state)
{
	struct fake *x = *state;
	static const char *const bad[] = {
	    "not json",
	    "{}",
	    "{\"voters\": []}",
	    "{\"voters\": [{\"id\": 0, \"address\": \"a:1\"}]}",
	    "{\"voters\": [{\"id\": 1}]}",
	};
	struct node_config nc;
	char what[FSM_WHAT_LEN], err[256], path[128];

	memset(&nc, 0, sizeof nc);
	/* nothing pending */
	assert_int_equal(
	    recover_load(x->dir, &nc, what, sizeof what, err, sizeof err), 0);
	assert_string_equal(what, "");
	assert_int_equal(nc.n_recover, 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		FILE *f = fopen(file_path(x, path, sizeof path), "w");

		assert_non_null(f);
		fputs(bad[i], f);
		fclose(f);
		err[0] = '\0';
		assert_int_equal(recover_load(x->dir, &nc, what, sizeof what,
					      err, sizeof err),
				 -EINVAL);
		assert_non_null(strstr(err, "raft-recover.json"));
	}
}

/* ---- the history note ---- */

static void test_note_once_leading(void **state)
{
	struct fake *x = *state;
	struct fsm_result ok = {.code = FSM_OK, .seq = 12};
	struct fsm_result no = {.code = FSM_E_INVALID};

	recover_close(&x->recover, NULL);
	make_recover(x, "recover --force-quorum by op: voters 1");
	/* a follower does not propose */
	recover_tick(&x->recover);
	assert_int_equal(x->submits, 0);
	x->leader = true;
	recover_tick(&x->recover);
	assert_int_equal(x->submits, 1);
	assert_string_equal(x->submitted_what,
			    "recover --force-quorum by op: voters 1");
	assert_true(x->submitted_forced);
	/* one at a time */
	recover_tick(&x->recover);
	assert_int_equal(x->submits, 1);
	/* lost: proposed again at the next tick */
	x->cb(x->cb_arg, PROPOSER_E_UNKNOWN, NULL);
	recover_tick(&x->recover);
	assert_int_equal(x->submits, 2);
	/* refused: again */
	x->cb(x->cb_arg, 0, &no);
	recover_tick(&x->recover);
	assert_int_equal(x->submits, 3);
	/* committed: never again */
	x->cb(x->cb_arg, 0, &ok);
	recover_tick(&x->recover);
	recover_tick(&x->recover);
	assert_int_equal(x->submits, 3);
}

static void test_no_note_no_proposal(void **state)
{
	struct fake *x = *state;

	x->leader = true;
	recover_tick(&x->recover);
	assert_int_equal(x->submits, 0);
}

static void test_closed_proposes_nothing(void **state)
{
	struct fake *x = *state;

	make_recover(x, "recover --force-quorum by op: voters 1");
	x->leader = true;
	recover_close(&x->recover, NULL);
	recover_tick(&x->recover);
	assert_int_equal(x->submits, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_refuses_without_force_quorum,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_while_the_quorum_holds,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_without_voters, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_when_not_a_member,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refuses_when_nobody_was_heard,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(
		test_writes_the_survivors_and_restarts, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_refuses_a_broken_file,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_note_once_leading, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_no_note_no_proposal, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_closed_proposes_nothing, setup,
					    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
