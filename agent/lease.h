/* lease: the bookkeeping of an agent's lease and of whether its applied
 * state may be trusted, kept apart from the I/O that feeds it
 * (members_heartbeat.c sends the heartbeats and carries the echoes,
 * members_lease.c runs the leader's barriers) so that it can be tested on
 * its own. Pure: every time is handed in (monotonic nanoseconds: the
 * module's clock, clock.h), nothing is read from a clock.
 *
 * A follower's lease runs from the send time of the heartbeat that got it:
 * until send + granted lease - drift margin. The leader's own lease runs
 * from the latest time b at which it proved that no leader of a later term
 * had been elected yet: until b + lease - drift margin (lease_prove()). A
 * new leader declares nothing down before lease + grace after its
 * election, which comes after b, or after the regime bound B >= b its
 * voters establish (below): by then this lease, and every lease this
 * leader granted (never past its own), has ended. Two proofs of b:
 *
 * - barrier: a committed Raft barrier started at b. It needs disk writes
 *   on a majority, so a slow disk (fsync under writeback load) makes it
 *   late and the lease can lapse while every agent reaches the leader.
 * - echoes (struct lease_echoes): no disk. Every heartbeat answer of the
 *   leader carries its own monotonic clock s and its term; each agent
 *   echoes the s of its last answer in its next heartbeat, with the Raft
 *   term and leader it sees when it sends (only when that term is the
 *   answer's). The leader keeps, per member, the newest s echoed with its
 *   current term and itself as leader, and counts itself at now. If a
 *   majority of the voters echoed s >= b: each of them was still in this
 *   term at some moment after b (it sent after receiving s), so before b
 *   none of them had voted in a later term; a leader of a later term needs
 *   the votes of a majority, which shares a member with this one; so none
 *   was elected before b. b is the majority-th newest echoed time.
 *   Only the leader's clock is compared, with itself: s and now both come
 *   from its monotonic clock, never from another agent's.
 *
 * The echo argument holds under these preconditions, which the callers
 * keep:
 * - The voters counted are those of the leader's current configuration
 *   (the latest in its log, committed or not). Raft changes one server at
 *   a time, so a majority of it shares a member with a majority of any
 *   configuration a later leader can be elected by. Echoes of non-voters
 *   (standbys, spares, removed members) never count.
 * - The term compared is the leader's current term; the echoes are
 *   forgotten when it changes (lease_echoes_term()), and an echo naming
 *   another term or another leader is refused. So an s this agent handed
 *   out in an earlier leadership, or an s from before a restart of its
 *   machine (the monotonic clock starts again), proves nothing.
 * - Pre-vote is on (consensus/node.c). Safety does not depend on it, but
 *   without it an isolated voter coming back raises the term, and every
 *   echo is forgotten with each such election.
 * - Leadership is transferred (raft_transfer) only by this agent, when it
 *   stops. A transferred election is still won by a majority of votes, so
 *   the argument holds; the new leader's wait of lease + grace is what
 *   covers the leases running meanwhile, as for any election.
 *
 * The view: after a start, or once the lease lapsed, the applied state may
 * be older than decisions the cluster committed meanwhile. It is trusted
 * again once the agent holds a lease and has applied the commit index the
 * leader named in its answers up to and including the one that granted
 * that lease (the target). The target stays fixed while the lease holds:
 * a leader commits something (a barrier) at every tick, so a target raised
 * with every answer would keep running ahead of what a follower has
 * applied, and the view would never be trusted. Once trusted, the view
 * stays trusted while the lease holds; the ordinary lag of a follower
 * behind the leader is what the leases already cover. The leader trusts
 * its view once it has applied its commit index. */
#ifndef POOLPAIR_LEASE_H
#define POOLPAIR_LEASE_H

#include <stdbool.h>
#include <stdint.h>

/* Where the end of a lease comes from. */
enum lease_source {
	LEASE_NONE,    /* never held */
	LEASE_GRANT,   /* a heartbeat answer of the leader (a follower) */
	LEASE_BARRIER, /* a committed barrier (the leader) */
	LEASE_ECHOES,  /* the heartbeats' echoes of a majority (the leader) */
};

/* "none", "grant", "barrier" or "echoes". */
const char *lease_source_name(int source);

struct lease {
	uint64_t until_ns;   /* valid while now < until_ns; 0: never held */
	uint64_t granted_by; /* raft id of the leader of the last grant */
	int source;	     /* enum lease_source of until_ns */
	uint64_t target;     /* commit index to apply; 0: none named yet */
	bool view_ok;	     /* applied state trusted (while the lease holds) */
};

/* A heartbeat answer received at now_ns for a heartbeat sent at sent_ns:
 * the leader (raft id leader) named commit_index (0 if it did not) and
 * granted lease_ms (0: no lease). drift_ms is subtracted from every
 * grant. */
void lease_answer(struct lease *l, uint64_t now_ns, uint64_t sent_ns,
		  uint64_t leader, uint64_t commit_index, uint64_t lease_ms,
		  uint64_t drift_ms);

/* The leader's own lease (self: its raft id), at now_ns: source
 * (LEASE_BARRIER or LEASE_ECHOES) proved that no leader of a later term
 * had been elected before proved_ns (see above); the lease then runs until
 * proved_ns + lease_ms - drift_ms, unless it already runs longer: a proof
 * never shortens it. Nothing when lease_ms <= drift_ms. A lease that had
 * lapsed no longer vouches for the view. */
void lease_prove(struct lease *l, uint64_t now_ns, uint64_t self, int source,
		 uint64_t proved_ns, uint64_t lease_ms, uint64_t drift_ms);

/* Whether the lease is valid at now_ns. */
bool lease_valid(const struct lease *l, uint64_t now_ns);

/* Milliseconds of lease left at now_ns (0 when lapsed). */
uint64_t lease_left_ms(const struct lease *l, uint64_t now_ns);

/* Whether the applied state may be trusted at now_ns: the lease is valid
 * and applied has reached the target — on the leader (leader true), its
 * own commit_index; on a follower the target of its answers (commit_index
 * unused). Latches true until the lease lapses. */
bool lease_view_current(struct lease *l, uint64_t now_ns, uint64_t applied,
			bool leader, uint64_t commit_index);

/* ---- echoes (the leader) ---- */

#define LEASE_ECHOES_MAX 32 /* members remembered (FSM_MAX_MEMBERS) */

struct lease_echo {
	uint64_t id;	  /* raft id of the member that echoed */
	uint64_t time_ns; /* the newest leader time it echoed in this term */
};

/* The echoes a leader received in its current term. Zero-initialise. */
struct lease_echoes {
	uint64_t term; /* the term they were echoed in; 0: none */
	struct lease_echo echo[LEASE_ECHOES_MAX];
	unsigned n;
};

/* The term the leader leads now (0 when it does not lead): the echoes of
 * any other term are forgotten. */
void lease_echoes_term(struct lease_echoes *e, uint64_t term);

/* The leader self, leading term at now_ns, got a heartbeat from member
 * from that echoes time_ns (a time of this leader's clock from one of its
 * answers), sent while from was in echo_term and saw echo_leader lead.
 * Kept when echo_term is term, echo_leader is self, time_ns is not in the
 * future (<= now_ns) and newer than what from echoed before; the echoes
 * of another term are forgotten first. Returns whether it was kept. */
bool lease_echo(struct lease_echoes *e, uint64_t self, uint64_t term,
		uint64_t now_ns, uint64_t from, uint64_t echo_term,
		uint64_t echo_leader, uint64_t time_ns);

/* What the echoes prove at now_ns for the leader self in term: the
 * majority-th newest of the times echoed by the voters (the n_voters raft
 * ids of the voters of the current configuration), self counting at now_ns
 * when it is one of them. 0 when fewer than a majority of the voters
 * echoed in term, or when the echoes are of another term. */
uint64_t lease_echoes_proof(const struct lease_echoes *e, uint64_t self,
			    uint64_t term, const uint64_t *voters,
			    unsigned n_voters, uint64_t now_ns);

/* ---- the regime bound (how long a new leader waits) ----
 *
 * A new leader N of term T may declare a member down (its lease surely
 * over) once every lease an earlier leader could have granted has ended.
 * Each such grant ends by b_L + lease - drift, b_L being that leader's
 * newest proof (see above). Without more knowledge N only knows b_L < its
 * own election, hence the wait of lease + grace from its election
 * (leader_since). The regime bound B is a smaller upper bound of every b_L:
 *
 * - Contacts. Every proof of an earlier leader L at b_L is supported by a
 *   majority of L's voters, each of which heard L after b_L: a barrier
 *   started at b_L commits only once a majority received it in an
 *   AppendEntries (sent after b_L); an echo of time s >= b_L was received
 *   in a heartbeat answer (sent at s); L itself counts (its barriers start
 *   at a members tick while it leads, its echo proofs are taken at a tick
 *   or as it answers a heartbeat, counting itself at that moment).
 *   So every agent records, on its own monotonic clock, the last moment it
 *   heard a leader of each term (lease_contact(): every AppendEntries and
 *   InstallSnapshot received, every heartbeat answer received or given,
 *   every tick while it leads), and its process start (what came before is unknown; a restart
 *   comes after all of it). lease_contact_before(T) is then an upper bound
 *   of every contact it had with a leader of a term before T.
 * - Reports. A voter F in term T sends, with its heartbeat to N, its term
 *   and the age of that bound (now - lease_contact_before(T), its clock).
 *   N, receiving it at r (its clock), keeps B_F = r - age (0 when the age
 *   is larger than r). Since F sent before r, B_F is after F's last contact
 *   with any earlier leader in real time; F, in term T, refuses every Raft
 *   message of an earlier term from then on and echoes only answers of its
 *   own term. Only the clock rates of the two agents differ, which grace
 *   covers as everywhere else.
 * - Bound. When every voter of N's configuration but at most one (the
 *   dead one) reported in term T, any majority of an earlier leader's
 *   voters holds one that reported, or N (provided the configurations
 *   agree, below). So b_L <= B = max(all B_F, N's own bound) for every
 *   earlier leader L, and every earlier grant ended by B + lease - drift.
 *   Silence may then be counted from min(leader_since, B): both bounds
 *   are valid, the smaller is taken.
 * - Configurations. The majorities must be drawn from N's voters. Raft
 *   changes one voter at a time and a leader starts a change only once the
 *   previous one is committed, so every leader's configuration after a
 *   change committed is that one or one voter away from it. One voter away
 *   still leaves an earlier majority with a voter that reported when N
 *   counts at least 3 voters (4 voters, majority 3, minus the added and the
 *   unreported one; or 2, majority 2, minus the unreported one). So B is
 *   used only when N counts at least 3 voters and has seen the same voter
 *   set, with no configuration change in flight, continuously since a
 *   moment (stable_since) no later than B: then N's configuration was
 *   committed before every proof B must bound (those after B). The stale
 *   configuration_committed_index of libraft 0.22.1 is not used: "in
 *   flight" is the uncommitted index, which that bug leaves set (not
 *   cleared), so it can only keep B unused.
 * - An agent of an earlier version sends no report: it is the unreported
 *   voter, and when another voter is missing too, leader_since is used. */

#define LEASE_CONTACT_TERMS 4 /* terms remembered (older ones merged) */

struct lease_contacts {
	uint64_t start_ns; /* process start: contacts before it are unknown */
	struct {
		uint64_t term;
		uint64_t ns; /* last contact with a leader of term */
	} last[LEASE_CONTACT_TERMS];
	unsigned n;
	uint64_t older_ns; /* newest contact of a term dropped from last[] */
};

/* Start empty at start_ns (the process start). */
void lease_contacts_init(struct lease_contacts *c, uint64_t start_ns);

/* A leader of term was heard at now_ns (term 0: of an unknown term, which
 * counts as earlier than every term). */
void lease_contact(struct lease_contacts *c, uint64_t term, uint64_t now_ns);

/* An upper bound of every contact with a leader of a term before term:
 * the newest of those recorded, of the dropped ones, and of the start. */
uint64_t lease_contact_before(const struct lease_contacts *c, uint64_t term);

struct lease_bound {
	uint64_t id;	   /* raft id of the voter that reported */
	uint64_t bound_ns; /* B_F, this leader's clock */
};

/* The reports a leader received in its current term. Zero-initialise. */
struct lease_regime {
	uint64_t term; /* the term they were reported in; 0: none */
	struct lease_bound r[LEASE_ECHOES_MAX];
	unsigned n;
};

/* The term the leader leads now (0 when it does not lead): the reports of
 * any other term are forgotten. */
void lease_regime_term(struct lease_regime *g, uint64_t term);

/* The leader self, leading term, received at now_ns member from's report
 * that it is in report_term and heard no leader of an earlier term for
 * age_ms. Kept (B_F = now_ns - age_ms, 0 on underflow; the smallest B_F of
 * from in this term) when report_term is term and from is not self; the
 * reports of another term are forgotten first. Returns whether it was
 * kept. */
bool lease_regime_report(struct lease_regime *g, uint64_t self, uint64_t term,
			 uint64_t now_ns, uint64_t from, uint64_t report_term,
			 uint64_t age_ms);

/* From when the leader self, leading term since leader_since_ns (0: does
 * not lead), counts the silence of a member it has not heard since: the
 * smaller of leader_since_ns and the regime bound B = the newest of
 * self_bound_ns (its own lease_contact_before(term)) and the B_F of the
 * voters (the n_voters raft ids of its configuration) that reported in
 * term, when all of these hold: self is one of at least 3 voters, every
 * voter but at most one is self or reported in term, and stable_since_ns
 * (since when its voter set is unchanged with no change in flight; 0: it
 * is not) is not after B. Otherwise leader_since_ns. A member not heard
 * since may be declared down (lease + grace) only after the returned time
 * plus that wait. */
uint64_t lease_regime_since(const struct lease_regime *g, uint64_t self,
			    uint64_t term, const uint64_t *voters,
			    unsigned n_voters, uint64_t self_bound_ns,
			    uint64_t stable_since_ns, uint64_t leader_since_ns);

#endif
