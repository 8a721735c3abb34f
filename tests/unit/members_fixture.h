/* members_fixture: one members module (agent/members*.c) on a loop of its
 * own, over fakes for the proposer, the Raft configuration, the clock and
 * the rest of the agent (struct fake), for test_members*.c. The module
 * sends nothing unless a test sets x->m.d.calls. */
#ifndef POOLPAIR_TESTS_MEMBERS_FIXTURE_H
#define POOLPAIR_TESTS_MEMBERS_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "agent/members.h"
#include "agent/members_internal.h"

#define MS 1000000ULL
#define LEASE 1000 /* ms */
#define DRIFT 100  /* ms */
#define SELF 1

struct fake {
	/* the clock */
	uint64_t now_ns;
	/* the proposer */
	bool leader;
	uint64_t leader_id;
	const char *leader_api;
	uint64_t term, commit, applied;
	unsigned submits;
	proposer_cb submit_cb;
	void *submit_arg;
	unsigned barriers;
	proposer_done_cb barrier_cb;
	void *barrier_arg;
	/* the raft configuration */
	struct raft_server servers[8];
	struct raft_configuration conf;
	bool changing;
	uint64_t mark[2]; /* configuration_mark */
	uint64_t last_index;
	uint64_t match[8]; /* by server index */
	unsigned assigns;
	uint64_t assigned_id;
	int assigned_role;
	unsigned election_timeout_ms; /* the last one set, 0 none */
	unsigned election_timeout_sets;
	/* the host */
	unsigned decided;
	int may_write;
	struct members_set_report sets[MEMBERS_SETS];
	unsigned n_sets;
	struct members_seed_report seeds[MEMBERS_SEEDS];
	unsigned n_seeds;
	struct members_stream_report streams[MEMBERS_STREAMS];
	unsigned n_streams;
	struct members_copy_report copies[MEMBERS_COPIES];
	unsigned n_copies;
	struct members_standby_report standbys[MEMBERS_STANDBYS];
	unsigned n_standbys;
};

/* One module over fakes, on its own loop. */
struct fixture {
	uv_loop_t loop;
	struct fake f;
	struct fsm fsm;
	struct clock clock;
	struct proposer proposer;
	struct members_raft raft;
	struct members_host host;
	struct members m;
	unsigned closed;
	uint64_t sent_ns; /* send time of the heartbeat answered() answers */
};

/* cmocka setup and teardown: *state is the struct fixture. */
int setup(void **state);
int teardown(void **state);

/* A voter or other server (role) in the fake Raft configuration. */
void add_server(struct fixture *x, uint64_t id, int role);

/* Registered in the applied state, at site. */
void add_member(struct fixture *x, uint64_t id, const char *site);

/* The fake clock at ms. */
void at_ms(struct fixture *x, uint64_t ms);

/* The module gets body as the answer to the heartbeat sent at
 * x->sent_ns. */
void answered(struct fixture *x, const char *body);

#endif
