/* fsm: the pure, deterministic state machine that Raft drives.
 *
 * Holds the topology (sites, members, pools, pairs, SBAs), CMS placement,
 * owner/epoch/failover state of every pool's user set, the policy and a
 * bounded history of decisions. No I/O, no clocks, no allocation that
 * depends on anything but the commands: time arrives inside each command.
 *
 * Commands are poolpair.Command protobufs (proto/control.proto). Snapshots
 * are poolpair.State protobufs; fsm_snapshot() of a restored snapshot yields
 * the same bytes.
 *
 * All functions: loop thread of the owner only (no locking inside). */
#ifndef POOLPAIR_FSM_H
#define POOLPAIR_FSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FSM_NAME_LEN 64     /* names: sites, pools, SBAs, members, os */
#define FSM_ADDR_LEN 128    /* host:port */
#define FSM_WHO_LEN 96
#define FSM_WHAT_LEN 192
#define FSM_REASON_LEN 192

#define FSM_MAX_SITES 16
#define FSM_MAX_MEMBERS 32
#define FSM_MAX_POOLS 64
#define FSM_MAX_SBAS 256
#define FSM_HISTORY 256     /* ring of the most recent decisions */
#define FSM_HISTORY_KEPT 1024 /* kept decisions older than the ring */
#define FSM_SYNC_TIMEOUT_DEFAULT_MS 2000
#define FSM_SYNC_TIMEOUT_MAX_MS 3600000
#define FSM_MAX_TOPOLOGY_STEPS 256
#define FSM_CMS_USER_SET "cms" /* the user set of the CMS documents */
#define FSM_MAX_OWNED_SETS 3   /* user sets a pool owns at most */

/* Result codes of a command. 0 is success; the rest are refusals that
 * leave the state unchanged (but are recorded in the history). */
enum fsm_code {
	FSM_OK = 0,
	FSM_E_MALFORMED,        /* not a decodable Command, or no op */
	FSM_E_INVALID,          /* a field is empty, too long or not allowed */
	FSM_E_EXISTS,           /* the name or id is already defined */
	FSM_E_NOT_FOUND,        /* a named site, pool, SBA or member is unknown */
	FSM_E_FULL,             /* a fixed capacity is reached */
	FSM_E_IN_USE,           /* still referenced (pool paired, hosts CMS, SBA backup, ...) */
	FSM_E_PAIR_EDITION,     /* pairing rule: same edition */
	FSM_E_PAIR_KIND,        /* pairing rule: same kind (physical/virtual) */
	FSM_E_PAIR_OS,          /* pairing rule: same OS */
	FSM_E_PAIR_SITE,        /* pairing rule: different sites */
	FSM_E_PAIR_ALREADY,     /* pairing rule: each pool in at most one pair */
	FSM_E_PAIR_SELF,        /* a pool cannot pair with itself */
	FSM_E_FAILED_OVER,      /* not allowed while the pool is not in state normal */
	FSM_E_NOT_PAIRED,       /* the pool has no pair */
	FSM_E_NESTED,           /* a topology step is itself a topology */
	FSM_E_PAIR_DOWN,        /* the pair (or CMS standby) is not normal: it cannot take over */
	FSM_E_NOT_FAILED_OVER,  /* the pool is normal: there is no failover to go on with */
	FSM_E_REFUSED_EVENT,    /* a recorded event that failed (hook exit) */
	FSM_E_CMS_MOVING,       /* a planned CMS move is (or is not) under way */
	FSM_E_STALE,            /* the writer changed since the decision's view */
	FSM_E_REFUSED,          /* not allowed now (a writer that is not caught up) */
	FSM_CODE_COUNT
};

/* Stable machine-readable name of a code ("pair_edition", ...). */
const char *fsm_code_name(int code);

enum fsm_failover_state {
	FSM_STATE_NORMAL = 0,
	FSM_STATE_FAILING_OVER,
	FSM_STATE_FAILED_OVER,
	FSM_STATE_RECOVERING,
	FSM_STATE_FAILING_BACK,
};
const char *fsm_failover_state_name(int state); /* "normal", "failing_over", ... */

/* Replication mode of a pair (proto ReplMode). */
enum fsm_repl_mode {
	FSM_REPL_ASYNC = 0, /* a write is answered once durable where taken */
	FSM_REPL_SYNC = 1,  /* ... once the pair acknowledged it too */
};
const char *fsm_repl_mode_name(int mode); /* "async", "sync" */

struct fsm_site {
	char name[FSM_NAME_LEN];
};

struct fsm_member {
	uint64_t id;
	char name[FSM_NAME_LEN];
	char site[FSM_NAME_LEN];
	char pool[FSM_NAME_LEN]; /* "" for a witness */
	char raft_address[FSM_ADDR_LEN];
	char data_address[FSM_ADDR_LEN];
	char api_address[FSM_ADDR_LEN];
};

struct fsm_pool {
	char name[FSM_NAME_LEN];
	char site[FSM_NAME_LEN];
	char edition[FSM_NAME_LEN];
	char kind[FSM_NAME_LEN];
	char os[FSM_NAME_LEN];
	uint32_t capacity;
	char pair[FSM_NAME_LEN];   /* "" when unpaired */
	bool pair_supported;       /* false: forced pairing that breaks a rule */
	char unsupported_reason[FSM_REASON_LEN];
	char owner[FSM_NAME_LEN];  /* pool that may write this user set */
	uint64_t epoch;            /* raised by every change of owner, and
				      by every local takeover */
	/* floor epoch: the epoch of the last change of OWNER (failover,
	 * failback; 1 when the pool was added). A local takeover raises
	 * epoch, not this: records of an epoch in [floor_epoch, epoch) were
	 * written by the same owner and are not stale. Never above epoch. */
	uint64_t floor_epoch;
	int state;                 /* enum fsm_failover_state */
	uint64_t failover_since_ms; /* time_ms of the command that set state */
	/* where the pair's copy stood when it last took this user set over,
	 * per lane (0 data, 1 content): the pool archives, on its return,
	 * what it wrote after that and never shipped */
	uint64_t takeover_seq[2];
	char last_failover_reason[FSM_REASON_LEN]; /* of the last failover begin/abort or failback abort */
	/* replication mode of the pair, set on both pools alike (async and 0
	 * while unpaired); read the timeout with fsm_pool_sync_timeout_ms() */
	int repl_mode;             /* enum fsm_repl_mode */
	uint32_t sync_timeout_ms;
	/* time_ms of the last automatic failover of this pool (the start of
	 * its cooldown), 0 never */
	uint64_t last_auto_failover_ms;
	/* maintenance: automatic failover of this pool is suspended (manual
	 * failovers are not); since and reason of the pause, 0 and "" when
	 * not paused */
	bool paused;
	uint64_t paused_since_ms;
	char pause_reason[FSM_REASON_LEN];
	/* the pool's writer: the member (of this pool, in its site) that may
	 * accept writes and run the pool's streams, 0 none; every other
	 * member of the pool is a standby. writer_token is raised by every
	 * change of writer, never lowered (see pool_writer below). */
	uint64_t writer;
	uint64_t writer_token;
	/* the synchronous standby: a member of this pool (not the writer)
	 * that holds every write the writer answered, 0 none. Set by the
	 * writer through pool_sync; cleared by any change of writer and by
	 * the removal of that member. */
	uint64_t sync_standby;
	/* where the copy of the user set named by this pool stood, per lane
	 * (0 data, 1 content), at the member that became its writer by the
	 * last local takeover, and the epoch that takeover gave the user set
	 * (all 0 before any): the former writer, back as a standby,
	 * archives what it wrote past writer_seq under an epoch older than
	 * writer_epoch. Later epoch raises (a failover, a failback) change
	 * neither: what was written under writer_epoch or after was the new
	 * writer's. */
	uint64_t writer_seq[2];
	uint64_t writer_epoch;
};

struct fsm_sba {
	char name[FSM_NAME_LEN];
	char site[FSM_NAME_LEN];
	char backup_pool[FSM_NAME_LEN];
};

struct fsm_policy {
	/* "auto" | "manual", or "" while none was chosen: the policy in
	 * effect is then the default, see fsm_failover_policy() */
	char failover[16];
	uint32_t max_lag_on_failover_ms;
	uint32_t cooldown_ms;
	bool set;                  /* a set_policy was ever committed */
};

struct fsm_history {
	uint64_t seq;              /* decision number, 1-based */
	uint64_t time_ms;
	char who[FSM_WHO_LEN];
	char what[FSM_WHAT_LEN];   /* human summary: "pair pool-east pool-west" */
	int code;                  /* enum fsm_code */
	char reason[FSM_REASON_LEN];
	bool forced;
	/* kept beyond the ring: an accepted decision that is forced (a
	 * forced pairing, a forced or disaster move, a forced quorum
	 * recovery) or of a kind the history keeps (an event recorded with
	 * keep: a recovery, a rebuild) */
	bool kept;
	/* Data at risk named by a failover decision (0 otherwise): writes of
	 * the user set not yet acknowledged by the pair, as the proposer
	 * measured them. */
	uint64_t data_at_risk_records;
	uint64_t data_at_risk_bytes;
	uint64_t data_at_risk_ms;
};

/* The whole state. Read it freely (loop thread); change it only through
 * fsm_apply() and fsm_restore(). Arrays keep insertion order. */
struct fsm {
	struct fsm_site sites[FSM_MAX_SITES];
	unsigned n_sites;
	struct fsm_member members[FSM_MAX_MEMBERS];
	unsigned n_members;
	struct fsm_pool pools[FSM_MAX_POOLS];
	unsigned n_pools;
	struct fsm_sba sbas[FSM_MAX_SBAS];
	unsigned n_sbas;
	char cms_active[FSM_NAME_LEN]; /* "" until placed */
	uint64_t cms_epoch;
	uint64_t cms_floor_epoch;  /* as fsm_pool.floor_epoch, for the CMS:
				      set by every move of the CMS */
	int cms_state;             /* FSM_STATE_NORMAL, or FAILING_OVER while a
				      planned CMS move drains */
	uint64_t cms_since_ms;     /* time_ms of the last change of cms_state */
	/* as fsm_pool.writer_seq and writer_epoch, for the CMS documents
	 * (user set "cms"; cms_writer_epoch is a cms_epoch) */
	uint64_t cms_writer_seq[2];
	uint64_t cms_writer_epoch;
	struct fsm_policy policy;
	/* Everything from here on is the history (a topology stages and
	 * copies only what comes before it). */
	struct fsm_history history[FSM_HISTORY]; /* ring: entry of seq s at (s-1) % FSM_HISTORY */
	uint64_t decisions;        /* commands applied so far = seq of the newest history entry */
	/* Kept entries (see struct fsm_history) that left the ring, oldest
	 * first: entry i at kept[(kept_head + i) % FSM_HISTORY_KEPT]. At the
	 * cap the oldest is dropped and counted in kept_dropped. */
	struct fsm_history kept[FSM_HISTORY_KEPT];
	unsigned n_kept;
	unsigned kept_head;
	uint64_t kept_dropped;
};

/* Outcome of one command. */
struct fsm_result {
	int code;                  /* enum fsm_code */
	char reason[FSM_REASON_LEN]; /* human text; "" on success */
	uint64_t seq;              /* history sequence of this decision */
};

/* Empty state with the default policy: no failover policy chosen (see
 * fsm_failover_policy()), max lag 1000 ms, cooldown 60000 ms, never set.
 * Never fails. */
void fsm_init(struct fsm *f);

/* The failover policy in effect: f->policy.failover when one was chosen,
 * else the default: "auto" when a witness is registered (a member without
 * a pool, in a site that hosts no pool: a third site, so that losing any
 * one site keeps a quorum), "manual" otherwise. Static string. */
const char *fsm_failover_policy(const struct fsm *f);

/* Apply one encoded poolpair.Command. Never fails as a function: a
 * malformed or refused command leaves the state unchanged except that a
 * history entry (and the decision counter) records the refusal.
 * `res` (borrowed, may be NULL) receives the outcome. Every command adds
 * one history entry (res->seq, = f->decisions) except an accepted one
 * that changes nothing and says so (pool_sync of the value held): no
 * entry, the counter unchanged, res->seq 0. Returns res->code. */
int fsm_apply(struct fsm *f, const void *buf, size_t len, struct fsm_result *res);

/* Encode the whole state as a poolpair.State. On success *buf is malloc()ed
 * and owned by the caller. Returns 0 or -ENOMEM. */
int fsm_snapshot(const struct fsm *f, void **buf, size_t *len);

/* Replace the state with a decoded poolpair.State. On error (-EINVAL:
 * undecodable or out of bounds) the state is unchanged. Does not take
 * ownership of buf. */
int fsm_restore(struct fsm *f, const void *buf, size_t len);

/* Failover decisions (fsm_failover.c; commands, see proto/control.proto):
 * two state machines, each a table of transitions {state, op, next}
 * applied by one function. A pool P's failover state (fsm_pool.state)
 * moves by the pool ops, the CMS's (fsm.cms_state: normal, or failing_over
 * while a planned move drains) by the CMS ops. Each command is one op:
 *
 *   op (FSM_OP_)       command                    state -> next
 *   FAILOVER_PLANNED   failover_begin, planned    normal -> failing_over
 *   FAILOVER_DISASTER  failover_begin, disaster   normal -> failed_over
 *   FAILOVER_COMPLETE  failover_complete          failing_over -> failed_over
 *   FAILOVER_ABORT     failover_abort             failing_over -> normal
 *   POOL_RECOVERING    pool_recovering            failed_over -> recovering
 *   FAILBACK_BEGIN     failback_begin             recovering -> failing_back,
 *                                                 failed_over -> failing_back
 *   FAILBACK_COMPLETE  failback_complete          failing_back -> normal
 *   FAILBACK_ABORT     failback_abort             failing_back -> recovering
 *   CMS_PLANNED        cms_failover, planned      normal -> failing_over
 *   CMS_DISASTER       cms_failover, disaster     normal -> normal
 *   CMS_COMPLETE       cms_failover_complete      failing_over -> normal
 *   CMS_ABORT          cms_failover_abort         failing_over -> normal
 *
 * An op in a state the table has no transition from is refused and
 * changes nothing: a pool op with FSM_E_NOT_FAILED_OVER when P is normal,
 * else FSM_E_FAILED_OVER; a CMS op with FSM_E_CMS_MOVING. Before the state
 * is read, a pool op naming a bad pool is FSM_E_INVALID, an unknown one
 * FSM_E_NOT_FOUND, an unpaired one FSM_E_NOT_PAIRED; a cms_failover needs
 * a placed CMS on a defined pool (FSM_E_NOT_FOUND) that is paired
 * (FSM_E_NOT_PAIRED). A transition may still be refused by its guard (any
 * refusal leaves the state unchanged); an accepted one enters its next
 * state and sets failover_since_ms of P (cms_since_ms for the CMS) to the
 * command's time_ms. None of them may be a topology step (FSM_E_INVALID).
 * Guards and effects:
 *
 *   failover_begin    P owning itself (else FSM_E_FAILED_OVER), pair
 *                     normal (else FSM_E_PAIR_DOWN). Disaster: as
 *                     failover_complete at once. With automatic set (a
 *                     disaster failover made by the leader's automatic
 *                     failover) also sets last_auto_failover_ms of P to
 *                     the command's time_ms.
 *   failover_complete owner = pair, epoch + 1; if P hosts the active CMS
 *                     it moves to the pair first (cms_epoch + 1), in the
 *                     same decision.
 *   failback_begin    from failed_over only when forced (else
 *                     FSM_E_FAILED_OVER: P must report recovering first).
 *   failback_complete owner = P, epoch + 1. The CMS stays where it is.
 *   cms_failover      moves the active CMS to the pair of its pool (see
 *                     fsm_cms_failover_check() for the refusals). Planned:
 *                     the CMS writes stop and drain. Disaster: active =
 *                     pair, cms_epoch + 1 at once, recorded forced with
 *                     the data at risk given.
 *   cms_failover_complete  since_ms equal to cms_since_ms (else
 *                     FSM_E_CMS_MOVING), pair not down (FSM_E_PAIR_DOWN)
 *                     -> active = pair, cms_epoch + 1.
 *   cms_failover_abort     the same move (since_ms); the CMS stays.
 * A failover of the pool hosting the CMS moves it, and ends a planned CMS
 * move under way (cms_state normal). Unpairing the CMS pool during a
 * planned CMS move is FSM_E_CMS_MOVING.
 * Every epoch raised here is a change of owner: the floor epoch follows it
 * (floor_epoch = epoch, cms_floor_epoch = cms_epoch), as it does when a
 * pool is added (1) and when the CMS is placed.
 * An epoch that cannot grow any more is FSM_E_FULL. History entries carry
 * forced (forced flag, or a disaster failover) and the data at risk given.
 */
enum fsm_failover_op {
	FSM_OP_FAILOVER_PLANNED = 0,
	FSM_OP_FAILOVER_DISASTER,
	FSM_OP_FAILOVER_COMPLETE,
	FSM_OP_FAILOVER_ABORT,
	FSM_OP_POOL_RECOVERING,
	FSM_OP_FAILBACK_BEGIN,
	FSM_OP_FAILBACK_COMPLETE,
	FSM_OP_FAILBACK_ABORT,
	FSM_OP_CMS_PLANNED,
	FSM_OP_CMS_DISASTER,
	FSM_OP_CMS_COMPLETE,
	FSM_OP_CMS_ABORT,
	FSM_OP_COUNT
};

/* Stable name of an op ("failover_planned", "cms_abort", ...; "unknown"
 * for others). */
const char *fsm_failover_op_name(int op);

/* The state the table leads op to from state (enum fsm_failover_state),
 * or -1 when it has no such transition (the op is then refused as said
 * above). The ops before FSM_OP_CMS_PLANNED are a pool's, the others the
 * CMS's. */
int fsm_failover_next(int op, int state);

/* Policy and maintenance (fsm_policy.c):
 *
 *   set_policy        replaces the policy (merge: only the flagged fields);
 *                     failover "" goes back to the default; sets `set`.
 *                     Another failover than auto, manual or "" is
 *                     FSM_E_INVALID; with if_never_set, a policy that was
 *                     set already is FSM_E_EXISTS.
 *   pool_pause        paused: P's automatic failover is suspended, with
 *                     paused_since_ms (the command's time_ms; kept when P
 *                     was paused already) and the reason; not paused: both
 *                     cleared (a pool that is not paused stays as it is).
 *                     The reason given is the history entry's reason.
 *                     Any failover state; a bad pool name is FSM_E_INVALID,
 *                     an unknown pool FSM_E_NOT_FOUND; not a topology step
 *                     (FSM_E_INVALID).
 */

/* Members (fsm_topology.c). register_member records an agent (or, without
 * a pool, a witness); an id registered already is updated in place, its
 * addresses only. Besides bad fields (FSM_E_INVALID) and a full table
 * (FSM_E_FULL) it refuses, changing nothing:
 *   FSM_E_EXISTS   a new id with the name of another member ("name east2
 *                  is member 5"); a registered id with another name, site
 *                  or pool ("member 5 is east2 (east, pool-east), not
 *                  east3 (east, pool-east): remove it before ..."). States
 *                  from before this rule may hold two members of one name:
 *                  each still re-registers as it is.
 *   FSM_E_INVALID  an agent of a defined pool in another site than the
 *                  pool's ("pool-east is in site east, not west").
 * add_pool refuses with FSM_E_INVALID a pool whose registered agents sit
 * in another site than the one given ("member 5 (east2) of pool-east is
 * in site west, not east"). remove_member of a writer: see below.
 *
 * The writer of a pool (fsm_writer.c; command pool_writer, see
 * proto/control.proto): at most one member per pool, fsm_pool.writer, with
 * a fencing token, fsm_pool.writer_token. Changes of writer:
 *
 *   command / op        effect                           token
 *   pool_writer         writer = member_id               + 1
 *   remove_member       of the writer: writer = 0        + 1
 * and every change of writer sets sync_standby to 0.
 *
 * pool_writer is a compare and set on the token, decided on a view of the
 * state that may be stale by the time it applies. Refused, in this order,
 * with the state unchanged:
 *   FSM_E_INVALID      a bad pool name, member_id 0
 *   FSM_E_NOT_FOUND    the pool or the member is unknown
 *   FSM_E_INVALID      the member is not registered for the pool ("member 5
 *                      (east2) is an agent of pool-west, not pool-east"),
 *                      or not in the pool's site
 *   FSM_E_STALE        expect_token is not the pool's writer_token: the
 *                      writer changed since the decision was made
 *   FSM_E_EXISTS       member_id is the writer already
 *   FSM_E_REFUSED      a local takeover (below) to a member that is not
 *                      the pool's sync_standby: "east2 is not caught up:
 *                      the synchronous standby of pool-east is east3"
 *                      ("... is none" when it has none)
 *   FSM_E_FULL         writer_token is UINT64_MAX, or (local takeover) an
 *                      epoch to raise is
 *   FSM_E_INVALID      a local takeover whose seqs miss a user set the
 *                      pool owns, or name one twice (entries for other
 *                      user sets are ignored)
 * A *local takeover* is a change of writer of a pool that owns its own
 * user set (owner == the pool: normal or failing over) from a writer W !=
 * 0: only to its synchronous standby S, the one member known to hold every
 * write W answered. Accepted, it raises the epoch of every user set the
 * pool owns (fsm_pool_owned_sets(): its own, its pair's when failed over
 * onto it — epoch of that pool + 1 —, "cms" when it hosts the active CMS
 * — cms_epoch + 1; their floor epochs stay: the owner is the same, what W
 * wrote is not stale) and records where S's copy of each stood, the seqs of
 * the command, with the epoch it raised to: fsm_pool.writer_seq and
 * writer_epoch of the pool naming the user set, fsm.cms_writer_seq and
 * cms_writer_epoch for "cms"; the history entry reads "writer of
 * pool-east: east -> east2 (member 5), token 4, epoch pool-east 3, cms 2"
 * with the command's reason. Any other change of writer (from no writer,
 * or of a pool failed over: its user set is written by the pair) needs no
 * synchronous standby, raises no epoch, ignores seqs and reads "writer of
 * pool-east: east2 (member 5), token 3" with the command's reason. Accepted
 * in any failover state (which writer may be chosen when is the proposer's
 * rule, not the FSM's). Not a topology step (FSM_E_INVALID). Removing the
 * member that is a writer clears the writer and raises the token in the
 * same decision, which says so ("remove member 5 (east2), writer of
 * pool-east: no writer, token 4"); removing the sync_standby clears it
 * (", sync standby of pool-east: none").
 *
 * pool_sync {pool, writer_token, standby, reason} sets sync_standby; only
 * the writer asks it, with its token. Refused, in this order:
 *   FSM_E_INVALID      a bad pool name
 *   FSM_E_NOT_FOUND    the pool is unknown
 *   FSM_E_STALE        writer_token is not the pool's token, or the pool
 *                      has no writer
 *   FSM_E_NOT_FOUND    standby (not 0) is not registered
 *   FSM_E_INVALID      standby is not an agent of the pool in its site, or
 *                      is the writer
 * The value held already: accepted, no history entry (fsm_apply). A
 * change: "sync standby of pool-east: east2 -> none" (names, "none" for
 * 0) with the command's reason. Not a topology step (FSM_E_INVALID).
 */

/* The user sets pool owns now, at most FSM_MAX_OWNED_SETS: its own (while
 * its owner is itself), its pair's (while the pair's owner is pool), and
 * FSM_CMS_USER_SET (while pool hosts the active CMS), each name once (a
 * pool named "cms" hosting the CMS: one "cms", whose position a local
 * takeover records for both). out[i] are borrowed (pool names, or the
 * static "cms"), valid until the next apply or restore. Returns how many
 * (0 for an unknown pool, or NULL). */
size_t fsm_pool_owned_sets(const struct fsm *f, const char *pool,
			   const char *out[FSM_MAX_OWNED_SETS]);

/* Would a pool_writer making member_id the writer of pool be accepted now
 * (over the current token, with seqs for every user set the pool owns)?
 * Read-only: exactly the checks fsm_apply() makes for that command but
 * the token's and the seqs'; res (may be NULL) as in fsm_failover_check(),
 * e.g. FSM_E_REFUSED "east2 is not caught up: the synchronous standby of
 * pool-east is none". pool is borrowed (NULL is taken as ""). Returns
 * the code. */
int fsm_pool_writer_check(const struct fsm *f, const char *pool,
			  uint64_t member_id, struct fsm_result *res);

/* Would a failover_begin of pool be accepted now? Read-only (--what-if):
 * exactly the checks fsm_apply() makes for that command. planned is the
 * kind asked about; both kinds need the same state today. pool is
 * borrowed (NULL is taken as ""). res (may be NULL) receives the code and,
 * on refusal, the reason apply would give; res->seq is 0. *cms_moves (may
 * be NULL) is set to true when the failover would be accepted and pool
 * hosts the active CMS, which then moves to the pair with the owner
 * (at once for a disaster failover, at failover_complete for a planned
 * one). Returns the code. */
int fsm_failover_check(const struct fsm *f, const char *pool, bool planned,
		       struct fsm_result *res, bool *cms_moves);

/* Would a cms_failover (planned or disaster, forced or not) be accepted
 * now? Read-only: exactly the checks fsm_apply() makes for that command.
 * FSM_E_NOT_FOUND without a CMS (or its pool unknown), FSM_E_NOT_PAIRED
 * when its pool is unpaired, FSM_E_CMS_MOVING when a planned CMS move is
 * under way, FSM_E_FAILED_OVER when the pool hosting it is failing over
 * (its failover moves the CMS itself), FSM_E_PAIR_DOWN when
 * the pair is failing_over or failed_over unless a forced disaster,
 * FSM_E_FULL when the cms epoch cannot be raised. res (may be NULL) as in
 * fsm_failover_check(). Returns the code. */
int fsm_cms_failover_check(const struct fsm *f, bool planned, bool forced,
			   struct fsm_result *res);

/* pair_mode: the replication mode of the pair of pool. FSM_E_INVALID for
 * a bad pool name, a mode that is not async or sync, or a timeout above
 * FSM_SYNC_TIMEOUT_MAX_MS; FSM_E_NOT_FOUND, FSM_E_NOT_PAIRED. Sets the
 * mode (and the timeout when given, else keeps it) on both pools. May be a
 * topology step. pair takes the mode and timeout (0: the default) too. */

/* The sync timeout of p's pair in ms (FSM_SYNC_TIMEOUT_DEFAULT_MS when it
 * holds 0). */
uint32_t fsm_pool_sync_timeout_ms(const struct fsm_pool *p);

/* Lookups; NULL when absent. Pointers valid until the next apply/restore. */
const struct fsm_pool *fsm_pool_find(const struct fsm *f, const char *name);
const struct fsm_member *fsm_member_find(const struct fsm *f, uint64_t id);
const struct fsm_sba *fsm_sba_find(const struct fsm *f, const char *name);
bool fsm_site_exists(const struct fsm *f, const char *name);
/* The API address of pool's writer (fsm_pool_writer()); NULL when pool
 * has no writer. Every other agent of the pool is a standby, never
 * named here. pool may be NULL. */
const char *fsm_pool_api(const struct fsm *f, const char *pool);
/* The writer of pool (a member registered for it, in its site); NULL
 * when pool is unknown or has no writer. pool may be NULL. */
const struct fsm_member *fsm_pool_writer(const struct fsm *f,
					 const char *pool);
/* The synchronous standby of pool (fsm_pool.sync_standby); NULL when pool
 * is unknown or has none. pool may be NULL. */
const struct fsm_member *fsm_pool_sync_standby(const struct fsm *f,
					       const char *pool);
/* Of user set user_set (a pool's name, or FSM_CMS_USER_SET), its last
 * local takeover: the epoch that takeover raised it to (writer_epoch, or
 * cms_writer_epoch; 0 when there never was one) into *epoch and, per
 * lane, where the copy of its new writer stood (writer_seq, or
 * cms_writer_seq) into seq. A former writer back as a standby archives
 * the records it holds past seq under an epoch older than *epoch (none
 * when *epoch is 0). Not the user set's current epoch: a failover or
 * failback since raised that, not this. false (nothing written) when no
 * such user set exists (an unknown pool, "cms" before the CMS is placed).
 * epoch and seq may be NULL. */
bool fsm_user_set_writer_seq(const struct fsm *f, const char *user_set,
			     uint64_t *epoch, uint64_t seq[2]);
/* Of user set user_set (a pool's name, or FSM_CMS_USER_SET): its floor
 * epoch (fsm_pool.floor_epoch, or cms_floor_epoch), the epoch of its last
 * change of owner, into *floor: a store holds a record of an older epoch
 * as stale. false (nothing written) when no such user set exists. */
bool fsm_user_set_floor_epoch(const struct fsm *f, const char *user_set,
			      uint64_t *floor);

/* History entry with sequence seq: from the ring, or from the kept
 * entries; NULL when it fell out of the ring and was not kept. */
const struct fsm_history *fsm_history_get(const struct fsm *f, uint64_t seq);

/* A page of the history: up to max entries with seq < before (before 0:
 * no bound), newest first, the ring and the kept entries merged, each
 * once. out receives borrowed pointers, valid until the next apply or
 * restore. Returns how many. */
size_t fsm_history_page(const struct fsm *f, uint64_t before,
			const struct fsm_history **out, size_t max);

#endif
