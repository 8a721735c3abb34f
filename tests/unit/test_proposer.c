/* Tests of agent/proposer.c: the proposer over a real Raft node, one voter
 * on loopback with its log in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "agent/proposer.h"
#include "consensus/node.h"

struct fixture {
	uv_loop_t loop;
	uv_timer_t timer;
	char dir[64];
	struct fsm fsm;
	struct node node;
	struct proposer p;
	bool closed;
	/* outcomes */
	int applied, status, code;
	uint64_t seq;
	int barriers, barrier_status;
};

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port;

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void remove_dir(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	struct node_config nc;

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(uv_timer_init(&f->loop, &f->timer), 0);
	snprintf(f->dir, sizeof f->dir, "/tmp/test_proposer.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	fsm_init(&f->fsm);
	memset(&nc, 0, sizeof nc);
	nc.id = 1;
	snprintf(nc.address, sizeof nc.address, "127.0.0.1:%d", free_port());
	snprintf(nc.dir, sizeof nc.dir, "%s/raft", f->dir);
	nc.bootstrap[0].id = 1;
	snprintf(nc.bootstrap[0].address, sizeof nc.bootstrap[0].address, "%s",
		 nc.address);
	nc.n_bootstrap = 1;
	nc.max_voters = 1;
	nc.election_timeout_ms = 100;
	nc.heartbeat_timeout_ms = 20;
	assert_int_equal(node_init(&f->node, &f->loop, &nc, &f->fsm), 0);
	proposer_node(&f->p, &f->node);
	*state = f;
	return 0;
}

static void node_closed(struct node *n)
{
	struct fixture *f =
	    (struct fixture *)((char *)n - offsetof(struct fixture, node));

	f->closed = true;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	node_close(&f->node, node_closed);
	uv_close((uv_handle_t *)&f->timer, NULL);
	while (!f->closed)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	remove_dir(f->dir);
	free(f);
	return 0;
}

static void tick(uv_timer_t *t) { (void)t; }

/* Run the loop until *flag is non-zero (at most about 20 s). */
static void run_until(struct fixture *f, const int *flag)
{
	uint64_t deadline = uv_hrtime() + 20000000000ULL;

	uv_timer_start(&f->timer, tick, 10, 10);
	while (*flag == 0 && uv_hrtime() < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_timer_stop(&f->timer);
	assert_true(*flag != 0);
}

static void lead(struct fixture *f)
{
	int leading = 0;
	uint64_t deadline;

	assert_int_equal(node_start(&f->node), 0);
	deadline = uv_hrtime() + 20000000000ULL;
	uv_timer_start(&f->timer, tick, 10, 10);
	while (!(leading = proposer_is_leader(&f->p)) && uv_hrtime() < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_timer_stop(&f->timer);
	assert_true(leading);
}

static void decided(void *arg, int status, const struct fsm_result *res)
{
	struct fixture *f = arg;

	f->applied++;
	f->status = status;
	f->code = res != NULL ? res->code : -1;
	f->seq = res != NULL ? res->seq : 0;
}

static void barrier_done(void *arg, int status)
{
	struct fixture *f = arg;

	f->barriers++;
	f->barrier_status = status;
}

/* register_member of id 1 with its API address, packed. */
static void registration(struct cmd_buf *b, const char *api)
{
	Poolpair__CmdRegisterMember op = POOLPAIR__CMD_REGISTER_MEMBER__INIT;
	Poolpair__Member m = POOLPAIR__MEMBER__INIT;
	struct cmd_ctx ctx = {.time_ms = 1, .who = "agent:east-1"};
	Poolpair__Command c;
	char who[FSM_WHO_LEN];

	cmd_init(&c, &ctx, who);
	m.id = 1;
	m.name = "east-1";
	m.site = "east";
	m.pool = "pool-east";
	m.raft_address = "127.0.0.1:1";
	m.data_address = "127.0.0.1:2";
	m.api_address = (char *)api;
	op.member = &m;
	c.op_case = POOLPAIR__COMMAND__OP_REGISTER_MEMBER;
	c.register_member = &op;
	assert_int_equal(cmd_pack(&c, b), 0);
}

static void refused_before_leading(void **state)
{
	struct fixture *f = *state;
	struct cmd_buf b;
	const char *api = "x";
	char msg[256];

	assert_false(proposer_is_leader(&f->p));
	assert_int_equal(proposer_leader(&f->p, &api), 0);
	assert_string_equal(api, "");
	registration(&b, "127.0.0.1:7101");
	/* not started: refused, the buffer taken all the same */
	assert_int_equal(proposer_submit(&f->p, &b, decided, f),
			 PROPOSER_E_CLOSING);
	assert_null(b.buf);
	assert_int_equal(b.len, 0);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(f->applied, 0);
	proposer_strerror(&f->p, PROPOSER_E_NOT_LEADER, msg, sizeof msg);
	assert_non_null(strstr(msg, "consensus: not the leader"));
}

static void submit_and_views(void **state)
{
	struct fixture *f = *state;
	struct cmd_buf b;
	const char *api = NULL;
	uint64_t commit;

	lead(f);
	assert_true(proposer_term(&f->p) >= 1);
	/* the leader is known, but has registered no API address yet */
	assert_int_equal(proposer_leader(&f->p, &api), 1);
	assert_string_equal(api, "");

	registration(&b, "127.0.0.1:7101");
	assert_int_equal(proposer_submit(&f->p, &b, decided, f), 0);
	assert_null(b.buf);
	run_until(f, &f->applied);
	assert_int_equal(f->applied, 1);
	assert_int_equal(f->status, 0);
	assert_int_equal(f->code, FSM_OK);
	assert_int_equal(f->seq, 1);
	assert_int_equal(f->fsm.n_members, 1);
	assert_int_equal(proposer_leader(&f->p, &api), 1);
	assert_string_equal(api, "127.0.0.1:7101");
	assert_int_equal(proposer_leader(&f->p, NULL), 1);
	commit = proposer_commit_index(&f->p);
	assert_true(commit >= 2); /* the bootstrap configuration, then ours */
	assert_true(proposer_applied_index(&f->p) >= commit);

	/* a refusal of the state machine is an answer, status 0 */
	{
		Poolpair__CmdRemoveSite op = POOLPAIR__CMD_REMOVE_SITE__INIT;
		struct cmd_ctx ctx = {.time_ms = 2, .who = "op"};
		Poolpair__Command c;
		char who[FSM_WHO_LEN];

		cmd_init(&c, &ctx, who);
		op.name = "nowhere";
		c.op_case = POOLPAIR__COMMAND__OP_REMOVE_SITE;
		c.remove_site = &op;
		assert_int_equal(cmd_pack(&c, &b), 0);
	}
	f->applied = 0;
	assert_int_equal(proposer_submit(&f->p, &b, decided, f), 0);
	run_until(f, &f->applied);
	assert_int_equal(f->status, 0);
	assert_int_equal(f->code, FSM_E_NOT_FOUND);
	assert_int_equal(f->seq, 2);

	assert_int_equal(proposer_barrier(&f->p, barrier_done, f), 0);
	run_until(f, &f->barriers);
	assert_int_equal(f->barriers, 1);
	assert_int_equal(f->barrier_status, 0);
	assert_true(proposer_applied_index(&f->p) >= commit + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(refused_before_leading, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(submit_and_views, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
