/* node: this agent's Raft server (libraft over raft_uv and its TCP
 * transport) driving the pure state machine of fsm.h.
 *
 * Every function and every callback runs on the loop thread. The node never
 * blocks: raft_uv does its disk I/O through kernel AIO or the thread pool. */
#ifndef POOLPAIR_NODE_H
#define POOLPAIR_NODE_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "consensus/fsm.h"
#include "consensus/transport_tls.h"

#define NODE_MAX_PEERS 16
#define NODE_ADDR_LEN 128

/* Errors of this module: negative, in its range -5601..-5699, and
 * libraft's RAFT_* codes mapped to -5700 - code (-5701..-5799) by
 * node_raft_err() (README, "Error codes"). */
enum {
	NODE_E_NOT_LEADER = -5601, /* this server does not lead: ask the leader */
	NODE_E_UNKNOWN = -5602,    /* leadership lost: the entry may or may not commit */
	NODE_E_CLOSING = -5603,    /* the node is shutting down */
	NODE_E_BUSY = -5604,       /* a configuration change is already in flight */
};

/* Message of a node error code or raft code mapped by node_raft_err(). */
const char *node_strerror(int rv);

/* Map a RAFT_* code (positive, below 100) to this module's negative range:
 * -5700 - code. */
int node_raft_err(int raft_rv);

struct node_peer {
	uint64_t id;
	char address[NODE_ADDR_LEN];
};

struct node_config {
	uint64_t id;
	char address[NODE_ADDR_LEN]; /* raft host:port, listened on and advertised */
	char dir[4096];              /* raft's own directory, created if missing */
	struct node_peer bootstrap[NODE_MAX_PEERS];
	unsigned n_bootstrap;        /* 0: never bootstrap (a joiner) */
	/* true: node_init() does not bootstrap; node_bootstrap() does, once
	 * the caller has decided that this is a first start */
	bool bootstrap_later;
	/* forced recovery of a lost quorum: when n_recover > 0 the node
	 * replaces its configuration with these voters (raft_recover) before
	 * starting. Dangerous: see poolpairctl recover --force-quorum. */
	struct node_peer recover[NODE_MAX_PEERS];
	unsigned n_recover;
	unsigned max_voters;         /* voters in the bootstrap configuration */
	unsigned election_timeout_ms;
	unsigned heartbeat_timeout_ms;
	/* Entries between snapshots on average (0: libraft's default, taken
	 * every that many entries). Each server takes its snapshots at log
	 * indexes of its own phase, so that the servers of a cluster do not
	 * all take one at the same entry: see node_snapshot_due(); the
	 * leader NODE_LEADER_SNAPSHOT_PERIODS periods apart. */
	unsigned snapshot_threshold;
	unsigned snapshot_trailing;
	/* Raft links over TLS (consensus/transport_tls.h) when tls.ctx is
	 * set (borrowed: it must outlive the node); plain raft_uv_tcp when
	 * NULL. */
	struct transport_tls_config tls;
};

/* Called once per node_apply with the outcome. status 0: the command was
 * committed and applied; res holds the FSM's answer (borrowed: valid only
 * during the callback). status < 0: NODE_E_UNKNOWN (leadership lost: outcome
 * unknown), NODE_E_CLOSING, or a raft error; res is NULL. */
typedef void (*node_apply_cb)(void *arg, int status, const struct fsm_result *res);

/* Called once per configuration change / transfer. */
typedef void (*node_change_cb)(void *arg, int status);

/* Called after every applied command or restored snapshot (e.g. to refresh
 * views or react to decisions). */
typedef void (*node_applied_cb)(void *arg);

struct node {
	uv_loop_t *loop; /* borrowed */
	struct fsm *fsm; /* borrowed; driven only by raft */
	struct node_config cfg;
	struct raft raft;
	struct raft_io io;
	struct raft_uv_transport transport;
	struct raft_fsm raft_fsm;
	int state; /* enum node_state */
	node_applied_cb on_applied;
	void *on_applied_arg;
	void (*close_cb)(struct node *n);
	/* leader contact: every AppendEntries or InstallSnapshot received,
	 * with its term (node_set_contact_cb) */
	void (*on_contact)(void *arg, uint64_t term);
	void *on_contact_arg;
	int (*io_start)(struct raft_io *io, unsigned msecs,
			raft_io_tick_cb tick, raft_io_recv_cb recv);
	raft_io_recv_cb io_recv; /* raft's, wrapped */
	uint64_t applied_total;  /* commands applied since start */
	uint64_t snapshots_taken;
	uint64_t snapshots_restored;
	uint64_t snapshot_index; /* of the last snapshot taken, 0 none */
	/* the snapshot threshold armed in raft: snap_threshold entries,
	 * plus snap_extra while leading (see NODE_LEADER_SNAPSHOT_PERIODS) */
	unsigned snap_threshold;
	unsigned snap_extra;
	bool snap_leading;
	char errmsg[256];
};

/* Prepare the node: creates cfg->dir, sets up raft_uv and the transport
 * (TLS when cfg->tls.ctx is set, plain TCP otherwise),
 * bootstraps when cfg->n_bootstrap > 0 and the directory holds no state.
 * fsm must be fsm_init()ed; it is owned by the caller and must outlive the
 * node. Returns 0 or a negative code with n->errmsg set; on error nothing
 * needs closing. */
int node_init(struct node *n, uv_loop_t *loop, const struct node_config *cfg,
	      struct fsm *fsm);

/* Bootstrap from cfg->bootstrap (node_init() with bootstrap_later), before
 * node_start(). 0 when done or when the directory already holds state. */
int node_bootstrap(struct node *n);

/* Start Raft: load state from disk and begin serving. */
int node_start(struct node *n);

/* Register a callback for every applied entry. */
void node_set_applied_cb(struct node *n, node_applied_cb cb, void *arg);

/* Register a callback for every AppendEntries or InstallSnapshot message
 * this node receives (from a leader: the leader's term), called before
 * Raft handles it, whatever Raft then does with it (an earlier term's is
 * refused). It is how the agent learns when it last heard a leader of an
 * earlier term (agent/lease.h, the regime bound). Loop thread; before
 * node_start(). */
void node_set_contact_cb(struct node *n, void (*cb)(void *arg, uint64_t term),
			 void *arg);

/* Propose one encoded poolpair.Command. The node takes ownership of buf
 * (malloc()ed) in every case. Returns 0 (cb will fire exactly once) or a
 * negative code (NODE_E_NOT_LEADER, NODE_E_CLOSING, raft error: cb never
 * fires). Leader only. */
int node_apply(struct node *n, void *buf, size_t len, node_apply_cb cb,
	       void *arg);

/* Wait until everything committed before now is applied (raft_barrier).
 * Leader only; same contract as node_apply. */
int node_barrier(struct node *n, node_change_cb cb, void *arg);

/* Configuration changes, leader only, one at a time (NODE_E_BUSY). role is
 * RAFT_VOTER, RAFT_STANDBY or RAFT_SPARE. */
int node_add(struct node *n, uint64_t id, const char *address,
	     node_change_cb cb, void *arg);
int node_assign(struct node *n, uint64_t id, int role, node_change_cb cb,
		void *arg);
int node_remove(struct node *n, uint64_t id, node_change_cb cb, void *arg);

/* Hand leadership to another voter (id 0: any). cb fires when done or timed
 * out; check node_is_leader() afterwards. */
int node_transfer(struct node *n, uint64_t id, node_change_cb cb, void *arg);

/* Close raft and its transport; cb fires once everything is closed. Pending
 * callbacks fire first with NODE_E_CLOSING or a raft error. */
void node_close(struct node *n, void (*cb)(struct node *n));

/* Raft links currently up over TLS (0 with the plain transport). */
unsigned node_tls_links(struct node *n);

/* Whether a snapshot taken (snapshots_taken counts it when the state is
 * serialised) is still being written to disk: until it is, a close of the
 * node may leave it unwritten and a restart replays the log instead. */
bool node_snapshot_writing(struct node *n);

/* Views (hints: a deposed leader may believe it leads for up to an election
 * timeout; never fence on them). */
bool node_is_leader(struct node *n);
uint64_t node_leader(struct node *n, const char **address);
const char *node_state_name(struct node *n); /* "leader", "follower", ... */
uint64_t node_term(struct node *n);
uint64_t node_commit_index(struct node *n);
uint64_t node_applied_index(struct node *n);
uint64_t node_last_index(struct node *n);

/* The current Raft configuration (borrowed; valid until the next loop turn).
 */
const struct raft_configuration *node_configuration(struct node *n);

/* A mark that changes whenever a configuration entry is appended to or
 * committed in this node's log: libraft's committed and uncommitted
 * configuration indexes, which the libraft 0.22.1 bug (node_changing())
 * may leave stale, but which still move with each new entry. Only for
 * telling whether the configuration changed between two looks. */
void node_configuration_mark(struct node *n, uint64_t *committed,
			     uint64_t *uncommitted);

/* Role of server id in the configuration, or -1 when absent. */
int node_role_of(struct node *n, uint64_t id);

/* Set the election timeout in effect (ms >= 1; election_timeout.h says how
 * the agent picks it). At runtime: libraft reads it at each check (a
 * leader's contact with a majority, a follower's wait for its leader) and a
 * follower or candidate draws its randomised timeout again in [ms, 2 ms]
 * from its timer's start. A no-op when ms is the current value. */
void node_set_election_timeout(struct node *n, unsigned ms);
/* The election timeout in effect (ms). */
unsigned node_election_timeout(const struct node *n);

/* Leader only: the highest index known to be on server id; -1 when not
 * leader or unknown id. */
int node_match_index(struct node *n, uint64_t id, uint64_t *index);

/* True while a configuration change is in flight. */
bool node_changing(struct node *n);

/* Snapshot phases: a server takes its snapshots at the log indexes i with
 * i % period == (id % NODE_SNAPSHOT_PHASES) * (period / NODE_SNAPSHOT_PHASES),
 * period being snapshot_threshold. Servers whose ids differ modulo 4 (ids
 * 1, 2, 3: a three-voter cluster) never take one at the same entry: while
 * one writes its snapshot (libraft closes its open log segment and syncs
 * the snapshot files, which stalls its own appends for tens of
 * milliseconds), the others keep a majority committing. */
#define NODE_SNAPSHOT_PHASES 4

/* The leader takes its snapshots this many periods apart, on its phase
 * still: its own snapshot blocks its loop (libraft closes the open log
 * segment, and with it destroys a kernel AIO context, on the loop thread:
 * about 30 ms on a VM) and so every commit, where a follower's is covered
 * by the other voters. A server notices that it leads at its next
 * proposal, barrier or applied command, and that it no longer does at its
 * next applied command. */
#define NODE_LEADER_SNAPSHOT_PERIODS 4

/* The snapshot threshold (entries after index at, where the last snapshot
 * was taken or loaded) that makes server id's next snapshot due at the
 * first index of its phase more than period / 2 entries after at: between
 * period / 2 + 1 and period * 3 / 2 entries. period itself when it is below
 * 2 * NODE_SNAPSHOT_PHASES (too short to spread) or the answer would not
 * fit an unsigned. Pure. */
unsigned node_snapshot_due(uint64_t id, unsigned period, uint64_t at);

#endif
