/* Tests of consensus/node.c's snapshot schedule: each server takes its
 * snapshots at log indexes of its own phase (node_snapshot_due()), over a
 * real Raft node (one voter on loopback, its log in a temporary directory),
 * through a restart, and the state round-trips through the snapshot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <limits.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "consensus/cmd.h"
#include "consensus/node.h"

#define PERIOD 64 /* snapshot_threshold of the node tests */
#define ID 3	  /* phase 3: indexes 48, 112, 176, ... */
#define MAX_SNAPS 64

struct fixture {
	uv_loop_t loop;
	uv_timer_t timer;
	char dir[64];
	struct node_config nc;
	struct fsm fsm;
	struct node node;
	bool closed;
	int applied, status, code;
	/* every snapshot the node took, by index, in order */
	uint64_t snaps[MAX_SNAPS];
	unsigned n_snaps;
	uint64_t seen_taken;
};

/* ---- the schedule alone ---- */

static void due_lands_on_the_phase(void **state)
{
	static const unsigned periods[] = {8, 64, 1000, 4096, 100000};
	static const uint64_t ats[] = {0, 1, 7, 48, 2047, 2048, 4096, 5000,
				       123457, 1000000007};

	(void)state;
	for (size_t p = 0; p < sizeof periods / sizeof periods[0]; p++) {
		unsigned period = periods[p];

		for (uint64_t id = 1; id <= 9; id++) {
			uint64_t phase = (id % NODE_SNAPSHOT_PHASES) *
					 (period / NODE_SNAPSHOT_PHASES);

			for (size_t a = 0; a < sizeof ats / sizeof ats[0];
			     a++) {
				uint64_t at = ats[a];
				unsigned due = node_snapshot_due(id, period, at);

				assert_int_equal((at + due) % period, phase);
				assert_true(due > period / 2);
				assert_true(due <= period + period / 2);
			}
		}
	}
	/* ids 1..4 take theirs a quarter of the period apart */
	assert_int_equal(node_snapshot_due(1, 4096, 0), 5120);
	assert_int_equal(node_snapshot_due(2, 4096, 0), 6144);
	assert_int_equal(node_snapshot_due(3, 4096, 0), 3072);
	assert_int_equal(node_snapshot_due(4, 4096, 0), 4096);
	assert_int_equal(node_snapshot_due(1, 4096, 1024), 4096);
	assert_int_equal(node_snapshot_due(2, 4096, 2048), 4096);
}

static void due_falls_back_to_the_period(void **state)
{
	(void)state;
	/* too short to spread */
	assert_int_equal(node_snapshot_due(3, 1, 100), 1);
	assert_int_equal(node_snapshot_due(3, 7, 100), 7);
	/* answers that would not fit */
	assert_int_equal(node_snapshot_due(2, UINT_MAX, 0), UINT_MAX);
	assert_int_equal(node_snapshot_due(2, 4096, UINT64_MAX - 10), 4096);
}

/* ---- over a node ---- */

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

static void node_closed(struct node *n)
{
	struct fixture *f =
	    (struct fixture *)((char *)n - offsetof(struct fixture, node));

	f->closed = true;
}

static void tick(uv_timer_t *t) { (void)t; }

static void open_node(struct fixture *f)
{
	fsm_init(&f->fsm);
	f->closed = false;
	f->seen_taken = 0;
	assert_int_equal(node_init(&f->node, &f->loop, &f->nc, &f->fsm), 0);
}

static void close_node(struct fixture *f)
{
	node_close(&f->node, node_closed);
	while (!f->closed)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(uv_timer_init(&f->loop, &f->timer), 0);
	snprintf(f->dir, sizeof f->dir, "/tmp/test_node_snapshot.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->nc.id = ID;
	snprintf(f->nc.address, sizeof f->nc.address, "127.0.0.1:%d",
		 free_port());
	snprintf(f->nc.dir, sizeof f->nc.dir, "%s/raft", f->dir);
	f->nc.bootstrap[0].id = ID;
	snprintf(f->nc.bootstrap[0].address,
		 sizeof f->nc.bootstrap[0].address, "%s", f->nc.address);
	f->nc.n_bootstrap = 1;
	f->nc.max_voters = 1;
	f->nc.election_timeout_ms = 100;
	f->nc.heartbeat_timeout_ms = 20;
	f->nc.snapshot_threshold = PERIOD;
	f->nc.snapshot_trailing = 16;
	open_node(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close_node(f);
	uv_close((uv_handle_t *)&f->timer, NULL);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	remove_dir(f->dir);
	free(f);
	return 0;
}

/* Records a snapshot the node took since the last look. */
static void note_snapshots(struct fixture *f)
{
	if (f->node.snapshots_taken == f->seen_taken)
		return;
	/* one at a time: the next cannot start before the last is written */
	assert_int_equal(f->node.snapshots_taken, f->seen_taken + 1);
	f->seen_taken = f->node.snapshots_taken;
	assert_true(f->n_snaps < MAX_SNAPS);
	f->snaps[f->n_snaps++] = f->node.snapshot_index;
}

/* Run the loop until *flag is non-zero (at most about 20 s). */
static void run_until(struct fixture *f, const int *flag)
{
	uint64_t deadline = uv_hrtime() + 20000000000ULL;

	uv_timer_start(&f->timer, tick, 10, 10);
	while (*flag == 0 && uv_hrtime() < deadline) {
		uv_run(&f->loop, UV_RUN_ONCE);
		note_snapshots(f);
	}
	uv_timer_stop(&f->timer);
	assert_true(*flag != 0);
}

static void lead(struct fixture *f)
{
	uint64_t deadline;

	assert_int_equal(node_start(&f->node), 0);
	deadline = uv_hrtime() + 20000000000ULL;
	uv_timer_start(&f->timer, tick, 10, 10);
	while (!node_is_leader(&f->node) && uv_hrtime() < deadline)
		uv_run(&f->loop, UV_RUN_ONCE);
	uv_timer_stop(&f->timer);
	assert_true(node_is_leader(&f->node));
}

static void decided(void *arg, int status, const struct fsm_result *res)
{
	struct fixture *f = arg;

	f->applied++;
	f->status = status;
	f->code = res != NULL ? res->code : -1;
}

/* One set_policy decision (cooldown_ms = i), committed and applied. */
static void decide(struct fixture *f, uint32_t i)
{
	const struct cmd_ctx ctx = {.time_ms = 1000 + i, .who = "op"};
	const struct cmd_policy pol = {.failover = "manual",
				       .max_lag_on_failover_ms = 1000,
				       .cooldown_ms = i};
	struct cmd_buf b;

	assert_int_equal(cmd_set_policy(&ctx, &pol, &b), 0);
	f->applied = 0;
	assert_int_equal(node_apply(&f->node, b.buf, b.len, decided, f), 0);
	run_until(f, &f->applied);
	assert_int_equal(f->status, 0);
	assert_int_equal(f->code, FSM_OK);
}

/* Waits until the node took its snapshot number n (the last one may still
 * be written when the decision that made it due is answered). */
static void wait_snapshots(struct fixture *f, unsigned n)
{
	uint64_t deadline = uv_hrtime() + 20000000000ULL;

	uv_timer_start(&f->timer, tick, 10, 10);
	while (f->n_snaps < n && uv_hrtime() < deadline) {
		uv_run(&f->loop, UV_RUN_ONCE);
		note_snapshots(f);
	}
	uv_timer_stop(&f->timer);
	assert_true(f->n_snaps >= n);
}

static void snapshots_on_the_phase(void **state)
{
	struct fixture *f = *state;
	uint64_t phase = (ID % NODE_SNAPSHOT_PHASES) *
			 (PERIOD / NODE_SNAPSHOT_PHASES);
	unsigned i;

	lead(f);
	/* one decision at a time: the commit index moves by one entry, so
	 * every snapshot falls exactly on its due index */
	for (i = 1; i <= 200; i++)
		decide(f, i);
	wait_snapshots(f, 3);
	for (i = 0; i < f->n_snaps; i++) {
		assert_int_equal(f->snaps[i] % PERIOD, phase);
		if (i > 0)
			assert_int_equal(f->snaps[i] - f->snaps[i - 1],
					 PERIOD);
	}
	/* the first one comes earlier than a period after the start */
	assert_int_equal(f->snaps[0], phase);
	assert_true(f->snaps[f->n_snaps - 1] <= node_applied_index(&f->node));
}

static void restart_keeps_state_and_phase(void **state)
{
	struct fixture *f = *state;
	uint64_t phase = (ID % NODE_SNAPSHOT_PHASES) *
			 (PERIOD / NODE_SNAPSHOT_PHASES);
	void *before, *after;
	size_t before_len, after_len;
	uint64_t last;
	unsigned i, n;

	lead(f);
	for (i = 1; i <= 130; i++)
		decide(f, i);
	wait_snapshots(f, 2); /* at 48 and 112 */
	assert_int_equal(f->fsm.policy.cooldown_ms, 130);
	assert_int_equal(fsm_snapshot(&f->fsm, &before, &before_len), 0);
	close_node(f);

	/* the restarted node loads the snapshot at 112, replays the rest,
	 * and reaches the same state */
	open_node(f);
	lead(f);
	assert_int_equal(f->node.snapshots_restored, 1);
	assert_int_equal(f->fsm.decisions, 130);
	assert_int_equal(f->fsm.policy.cooldown_ms, 130);
	assert_int_equal(fsm_snapshot(&f->fsm, &after, &after_len), 0);
	assert_int_equal(after_len, before_len);
	assert_memory_equal(after, before, before_len);
	free(before);
	free(after);

	/* counting from the loaded snapshot, the next ones stay on the
	 * phase */
	n = f->n_snaps;
	last = f->snaps[n - 1];
	for (i = 131; i <= 260; i++)
		decide(f, i);
	wait_snapshots(f, n + 2);
	for (i = n; i < f->n_snaps; i++)
		assert_int_equal(f->snaps[i] % PERIOD, phase);
	assert_true(f->snaps[n] > last);
	assert_int_equal(f->fsm.policy.cooldown_ms, 260);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(due_lands_on_the_phase),
	    cmocka_unit_test(due_falls_back_to_the_period),
	    cmocka_unit_test_setup_teardown(snapshots_on_the_phase, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(restart_keeps_state_and_phase,
					    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
