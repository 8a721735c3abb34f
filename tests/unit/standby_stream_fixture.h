/* standby_stream_fixture: what the hot-standby stream tests share
 * (test_standby_stream.c, test_standby_stream_copy.c): three stores on one
 * loop, real TCP on loopback: A the writer of pool-east, B a standby of
 * pool-east, C the pair (pool-west); writes at a node, a sender and a
 * receiver between two nodes, and the checks of a node's store. */
#ifndef POOLPAIR_TESTS_STANDBY_STREAM_FIXTURE_H
#define POOLPAIR_TESTS_STANDBY_STREAM_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "replication/receiver.h"
#include "replication/sender.h"
#include "replication/store.h"

#define LANE_DATA POOLPAIR__REPL__LANE__LANE_DATA
#define LANE_CONTENT POOLPAIR__REPL__LANE__LANE_CONTENT
#define POOL "pool-east"
#define PAIR "pool-west"
#define N_NODES 3
#define MAX_WATCH 4

struct node {
	const char *name; /* database file */
	const char *pool;
	struct store store;
	struct sender *tx;
	struct receiver *rx;
	uint64_t head[2]; /* writer: last seq written per lane */
};

struct env {
	uv_loop_t loop;
	char dir[64];
	struct node n[N_NODES];
	int writes_pending;
	int write_errors;
	int closed;
	int timed_out;
	int verbose;
	const char *watch[MAX_WATCH];
	int hits[MAX_WATCH];
	uint64_t on_ack[2];    /* newest acked_seq on_ack reported */
	uint64_t rx_applied[N_NODES][2]; /* on_apply per receiving node */
};

struct pos_ctx {
	int done;
	uint64_t applied[2], acked[2], lag[2], head[2];
};

extern const char *const pool_sets[1]; /* {POOL} */
extern unsigned sender_stats_ms; /* 0: 50 */
extern uint64_t rx_peer_agent;	 /* receiver_config.peer_agent */

/* Run the loop until pred(e) holds or timeout_ms passes. */
int run_until(struct env *e, int (*pred)(struct env *e), unsigned timeout_ms);
/* Let the loop run for ms (to see that something does NOT happen). */
void run_for(struct env *e, unsigned ms);
void env_setup(struct env *e);
/* Close every module, then the stores; assert the loop ends empty. */
void env_teardown(struct env *e);
/* count user-data records of POOL at node n, keys from first. */
void write_data(struct env *e, struct node *n, int first, int count);
/* One content item of POOL at node n: total bytes in chunks of chunk. */
void write_content(struct env *e, struct node *n, const char *name,
		   size_t total, size_t chunk);
/* A sender at node from for POOL, local_pool from's pool, to peer. */
void start_sender(struct env *e, struct node *from, const char *peer, int port,
		  int no_trim);
/* A receiver at node at for POOL from peer; returns its port. */
int start_receiver(struct env *e, struct node *at, const char *peer,
		   int outbox_mode);
void positions(struct env *e, struct node *n, struct pos_ctx *c);
void assert_same_copy(struct env *e, struct node *a, struct node *b);
/* The sender of A acked both lanes up to A's heads. */
int a_acked(struct env *e);
/* B applied, and the sender of A was acked, 40 records of user data. */
int b_at_limit(struct env *e);
/* The first watched log message was seen. */
int refused_seen(struct env *e);
/* The pair acknowledged (POOL, lane) of n's store up to seq. */
void store_ack(struct env *e, struct node *n, int lane, uint64_t seq);

#endif
