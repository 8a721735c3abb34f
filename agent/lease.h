/* lease: the bookkeeping of an agent's lease and of whether its applied
 * state may be trusted, kept apart from the I/O that feeds it (members.c
 * sends the heartbeats and runs the leader's barriers) so that it can be
 * tested on its own. Pure: every time is handed in (uv_hrtime()
 * nanoseconds), nothing is read from a clock.
 *
 * A follower's lease runs from the send time of the heartbeat that got it:
 * until send + granted lease - drift margin. The leader's own lease runs
 * from the start of its last committed barrier (lease_extend()).
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
 * behind the leader is what the leases already cover. */
#ifndef POOLPAIR_LEASE_H
#define POOLPAIR_LEASE_H

#include <stdbool.h>
#include <stdint.h>

struct lease {
	uint64_t until_ns;   /* valid while now < until_ns; 0: never held */
	uint64_t granted_by; /* raft id of the leader of the last grant */
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

/* The leader's own lease (self: its raft id), at now_ns: valid until
 * until_ns unless already longer. A lease that had lapsed no longer
 * vouches for the view. */
void lease_extend(struct lease *l, uint64_t now_ns, uint64_t self,
		  uint64_t until_ns);

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

#endif
