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
#define QUARTER (PERIOD / NODE_SNAPSHOT_PHASES) /* between two phases */
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

/* Waits until the node took its snapshot number n and wrote it (the last
 * one may still be written when the decision that made it due is
 * answered; a node closed before then replays its log at the restart). */
static void wait_snapshots(struct fixture *f, unsigned n)
{
	uint64_t deadline = uv_hrtime() + 20000000000ULL;

	uv_timer_start(&f->timer, tick, 10, 10);
	while ((f->n_snaps < n || node_snapshot_writing(&f->node)) &&
	       uv_hrtime() < deadline) {
		uv_run(&f->loop, UV_RUN_ONCE);
		note_snapshots(f);
	}
	uv_timer_stop(&f->timer);
	assert_true(f->n_snaps >= n);
	assert_false(node_snapshot_writing(&f->node));
}

/* ---- a one-voter node: it leads ---- */

#define LEADER_PERIOD (NODE_LEADER_SNAPSHOT_PERIODS * PERIOD)

static void restart_keeps_state_and_phase(void **state)
{
	struct fixture *f = *state;
	uint64_t phase = (ID % NODE_SNAPSHOT_PHASES) *
			 (PERIOD / NODE_SNAPSHOT_PHASES);
	void *before, *after;
	size_t before_len, after_len;
	unsigned i;

	lead(f);
	/* one decision at a time: the commit index moves by one entry, so
	 * every snapshot falls exactly on its due index. The leader's first
	 * is due at 48 (phase 3 of 64), four periods later while it leads */
	for (i = 1; i <= 250; i++)
		decide(f, i);
	wait_snapshots(f, 1);
	assert_int_equal(f->n_snaps, 1);
	assert_int_equal(f->snaps[0], phase + LEADER_PERIOD - PERIOD);
	assert_int_equal(f->fsm.policy.cooldown_ms, 250);
	assert_int_equal(fsm_snapshot(&f->fsm, &before, &before_len), 0);
	close_node(f);

	/* the restarted node loads the snapshot at 240, replays the rest,
	 * and reaches the same state */
	open_node(f);
	lead(f);
	assert_int_equal(f->node.snapshots_restored, 1);
	assert_int_equal(f->fsm.decisions, 250);
	assert_int_equal(f->fsm.policy.cooldown_ms, 250);
	assert_int_equal(fsm_snapshot(&f->fsm, &after, &after_len), 0);
	assert_int_equal(after_len, before_len);
	assert_memory_equal(after, before, before_len);
	free(before);
	free(after);

	/* counting from the loaded snapshot, the next one is on the phase,
	 * the leader's period later */
	for (i = 251; i <= 510; i++)
		decide(f, i);
	wait_snapshots(f, 2);
	assert_int_equal(f->snaps[1] % PERIOD, phase);
	assert_int_equal(f->snaps[1] - f->snaps[0], LEADER_PERIOD);
	assert_int_equal(f->fsm.policy.cooldown_ms, 510);
}

/* ---- three voters on one loop ---- */

struct cluster {
	uv_loop_t loop;
	uv_timer_t timer;
	char dir[64];
	struct fsm fsm[3];
	struct node node[3];
	unsigned closed;
	int applied, status, code;
	uint64_t snaps[3][MAX_SNAPS];
	unsigned n_snaps[3];
	uint64_t seen[3];
};

static void cluster_note(struct cluster *c)
{
	for (unsigned i = 0; i < 3; i++) {
		if (c->node[i].snapshots_taken == c->seen[i])
			continue;
		assert_int_equal(c->node[i].snapshots_taken, c->seen[i] + 1);
		c->seen[i]++;
		assert_true(c->n_snaps[i] < MAX_SNAPS);
		c->snaps[i][c->n_snaps[i]++] = c->node[i].snapshot_index;
	}
}

static void cluster_node_closed(struct node *n)
{
	struct cluster *c = n->on_applied_arg;

	c->closed++;
}

static void cluster_applied(void *arg) { (void)arg; }

static void cluster_decided(void *arg, int status,
			    const struct fsm_result *res)
{
	struct cluster *c = arg;

	c->applied++;
	c->status = status;
	c->code = res != NULL ? res->code : -1;
}

/* Runs the loop until pred(c) (at most about 30 s). */
static void cluster_run(struct cluster *c, bool (*pred)(struct cluster *c))
{
	uint64_t deadline = uv_hrtime() + 30000000000ULL;

	uv_timer_start(&c->timer, tick, 10, 10);
	while (!pred(c) && uv_hrtime() < deadline) {
		uv_run(&c->loop, UV_RUN_ONCE);
		cluster_note(c);
	}
	uv_timer_stop(&c->timer);
	assert_true(pred(c));
}

static int cluster_leader(struct cluster *c)
{
	for (int i = 0; i < 3; i++)
		if (node_is_leader(&c->node[i]))
			return i;
	return -1;
}

static bool has_leader(struct cluster *c) { return cluster_leader(c) >= 0; }
static bool was_applied(struct cluster *c) { return c->applied != 0; }

/* Every server took at least two snapshots. */
static bool two_each(struct cluster *c)
{
	for (unsigned i = 0; i < 3; i++)
		if (c->n_snaps[i] < 2)
			return false;
	return true;
}

static void phases_of_leader_and_followers(void **state)
{
	struct cluster *c = calloc(1, sizeof *c);
	int ports[3], leader = -1;
	unsigned i, k;

	(void)state;
	assert_non_null(c);
	assert_int_equal(uv_loop_init(&c->loop), 0);
	assert_int_equal(uv_timer_init(&c->loop, &c->timer), 0);
	snprintf(c->dir, sizeof c->dir, "/tmp/test_node_snapshot.XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	for (i = 0; i < 3; i++)
		ports[i] = free_port();
	for (i = 0; i < 3; i++) {
		struct node_config nc;

		memset(&nc, 0, sizeof nc);
		nc.id = i + 1;
		snprintf(nc.address, sizeof nc.address, "127.0.0.1:%d",
			 ports[i]);
		snprintf(nc.dir, sizeof nc.dir, "%s/%u", c->dir, i + 1);
		for (k = 0; k < 3; k++) {
			nc.bootstrap[k].id = k + 1;
			snprintf(nc.bootstrap[k].address,
				 sizeof nc.bootstrap[k].address,
				 "127.0.0.1:%d", ports[k]);
		}
		nc.n_bootstrap = 3;
		nc.max_voters = 3;
		nc.election_timeout_ms = 1000;
		nc.heartbeat_timeout_ms = 100;
		nc.snapshot_threshold = PERIOD;
		nc.snapshot_trailing = 16;
		fsm_init(&c->fsm[i]);
		assert_int_equal(
		    node_init(&c->node[i], &c->loop, &nc, &c->fsm[i]), 0);
		node_set_applied_cb(&c->node[i], cluster_applied, c);
	}
	for (i = 0; i < 3; i++)
		assert_int_equal(node_start(&c->node[i]), 0);
	cluster_run(c, has_leader);

	/* decisions one at a time until every server took two snapshots
	 * (the leader's come four periods apart) */
	for (i = 1; i <= 1200 && !two_each(c); i++) {
		const struct cmd_ctx ctx = {.time_ms = 1000 + i, .who = "op"};
		const struct cmd_policy pol = {.failover = "manual",
					       .max_lag_on_failover_ms = 1000,
					       .cooldown_ms = i};
		struct cmd_buf b;

		leader = cluster_leader(c);
		if (leader < 0) {
			cluster_run(c, has_leader);
			leader = cluster_leader(c);
		}
		assert_int_equal(cmd_set_policy(&ctx, &pol, &b), 0);
		c->applied = 0;
		assert_int_equal(node_apply(&c->node[leader], b.buf, b.len,
					    cluster_decided, c),
				 0);
		cluster_run(c, was_applied);
		assert_int_equal(c->status, 0);
		assert_int_equal(c->code, FSM_OK);
	}
	assert_true(two_each(c));
	for (i = 0; i < 3; i++) {
		uint64_t phase = ((i + 1) % NODE_SNAPSHOT_PHASES) *
				 (PERIOD / NODE_SNAPSHOT_PHASES);
		/* a server that led throughout takes its snapshots four
		 * periods apart, a follower one period apart */
		uint64_t gap = (int)i == leader ? LEADER_PERIOD : PERIOD;

		for (k = 0; k < c->n_snaps[i]; k++) {
			/* a follower applies what it received since its last
			 * apply at once (more entries the busier the machine):
			 * at or after the due index, within its quarter of the
			 * period, before the next server's phase */
			assert_true(c->snaps[i][k] % PERIOD >= phase);
			assert_true(c->snaps[i][k] % PERIOD < phase + QUARTER);
			if (k > 0) {
				uint64_t d = c->snaps[i][k] - c->snaps[i][k - 1];

				assert_true(d > gap - QUARTER &&
					    d < gap + QUARTER);
			}
		}
	}
	/* no two servers took a snapshot at the same entry */
	for (i = 0; i < 3; i++)
		for (k = 0; k < c->n_snaps[i]; k++)
			for (unsigned j = i + 1; j < 3; j++)
				for (unsigned m = 0; m < c->n_snaps[j]; m++)
					assert_true(c->snaps[i][k] !=
						    c->snaps[j][m]);

	for (i = 0; i < 3; i++)
		node_close(&c->node[i], cluster_node_closed);
	while (c->closed < 3)
		uv_run(&c->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&c->timer, NULL);
	uv_run(&c->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&c->loop), 0);
	remove_dir(c->dir);
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(due_lands_on_the_phase),
	    cmocka_unit_test(due_falls_back_to_the_period),
	    cmocka_unit_test(phases_of_leader_and_followers),
	    cmocka_unit_test_setup_teardown(restart_keeps_state_and_phase,
					    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
