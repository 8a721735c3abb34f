/* placement: which members of the Raft group are voters, standbys, spares.
 *
 * Pure and deterministic: no I/O, no clocks, no allocation, no global
 * state. The leader describes every member as it sees it (site, current
 * role, reachable, caught up) and asks for the next single configuration
 * change; it applies that change (raft_assign), waits for it to commit and
 * asks again, until placement_next() answers that nothing is due. Raft
 * allows one configuration change in flight, hence one change per call.
 *
 * This module does not use raft.h: roles are its own enum placement_role
 * and the caller maps them to RAFT_VOTER, RAFT_STANDBY and RAFT_SPARE.
 *
 * Terms used below:
 *   live      the leader itself; a current voter that is reachable; a
 *             non-voter that is reachable and caught up.
 *   dead      a current voter that is not reachable. It keeps its seat
 *             (and counts towards the number of voters) until a live
 *             member can take it.
 *   eligible  live members and dead voters: the members that may hold a
 *             voter seat in the target. Only non-voters that are reachable
 *             and caught up are ever promoted to voter.
 *   sites     the distinct sites of the live members. A site whose only
 *             members are dead or not caught up is treated as down.
 *   cap       the largest odd number <= max_voters (5 -> 5, 4 -> 3, 2 -> 1).
 *
 * Target placement (placement_target):
 *   - V voters, V the largest odd number <= min(cap, eligible members),
 *     lowered by 2 while the spread below cannot be met. So 1 or 2
 *     members give 1 voter (the leader), 3 or 4 give 3, 5 or more give 5.
 *   - Spread with 3 or more sites: at most (V - 1) / 2 voters per site, so
 *     no site holds a majority and losing any one site keeps a quorum.
 *     With fewer sites: live voters spread as evenly as the members allow.
 *   - Seats go, in order of preference, to the leader (never demoted),
 *     reachable current voters, live non-voters, dead voters; ties by lower
 *     id. The order of the input array never matters.
 *   - Members without a seat: standby when reachable and caught up, or when
 *     they lose a voter seat; otherwise they keep their role (a new joiner
 *     that is not caught up stays spare, an unreachable standby stays
 *     standby).
 *
 * Order of changes (placement_next): promotions before demotions while the
 * group has at most V voters, so a dead voter is replaced by promoting its
 * substitute first and demoting the dead voter to standby on the next call;
 * when the group has more than V voters, demotions first, dead voters
 * before live ones, and never one that would leave the live voters without
 * a majority; spare to standby last. The walk passes through even voter
 * counts (3 -> 4 -> 5) but never holds more than V + 1 voters unless it
 * started with more. With unchanged health flags the target does not move
 * while the walk applies the changes, so each member changes role at most
 * once: at most n steps.
 *
 * All functions: any thread; they only read their arguments. */
#ifndef POOLPAIR_PLACEMENT_H
#define POOLPAIR_PLACEMENT_H

#include <stdbool.h>
#include <stdint.h>

#define PLACEMENT_MAX 32	   /* members per call */
#define PLACEMENT_SITE_LEN 64	   /* site names, with their NUL */
#define PLACEMENT_MAX_VOTERS 5	   /* upper bound of max_voters */
#define PLACEMENT_DEFAULT_VOTERS 5 /* when the operator sets none */

enum placement_role {
	PLACEMENT_SPARE = 0, /* no log, no vote */
	PLACEMENT_STANDBY,   /* replicates the log, no vote */
	PLACEMENT_VOTER,     /* replicates the log and votes */
};

/* Error codes: negative, in this module's range -5501..-5599 (README,
 * "Error codes"). Calls that fail change nothing and write nothing through
 * their output pointers. */
enum placement_error {
	PLACEMENT_ERR_ARG = -5501,	  /* a required pointer is NULL */
	PLACEMENT_ERR_TOO_MANY = -5502,	  /* n > PLACEMENT_MAX */
	PLACEMENT_ERR_MAX_VOTERS = -5503, /* max_voters not in 1..5 */
	PLACEMENT_ERR_ID = -5504,	  /* a member has id 0 */
	PLACEMENT_ERR_DUPLICATE = -5505,  /* two members share an id */
	PLACEMENT_ERR_ROLE = -5506, /* role is not an enum placement_role */
	PLACEMENT_ERR_SITE = -5507, /* site empty or not NUL-terminated */
	PLACEMENT_ERR_NO_LEADER =
	    -5508,		       /* no member has is_leader (or n == 0) */
	PLACEMENT_ERR_LEADERS = -5509, /* more than one member has is_leader */
	PLACEMENT_ERR_LEADER_ROLE = -5510, /* the leader is not a voter */
};

/* Message of an error code ("duplicate member id"); "unknown error" for
 * anything else. Static storage, never NULL. */
const char *placement_strerror(int err);

/* One member as the leader sees it. */
struct placement_member {
	uint64_t id;		       /* raft server id, not 0, unique */
	char site[PLACEMENT_SITE_LEN]; /* non-empty, NUL-terminated */
	int role;		       /* current role, enum placement_role */
	bool reachable;		       /* answered the leader recently; the
					* caller decides how long "unreachable"
					* must last before a voter is replaced */
	bool caught_up;		       /* its log is close to the leader's */
	bool is_leader;		       /* exactly one member; must be a voter */
};

/* A single role change: make member `id` take role `role`. */
struct placement_change {
	uint64_t id;
	int role; /* enum placement_role */
};

/* Next change towards the target placement.
 * m: borrowed array of n members, any order. max_voters: 1..5.
 * out: borrowed; written only when 1 is returned.
 * Returns 1 when a change is due (*out set), 0 when the configuration is as
 * it should be, or a negative enum placement_error on bad input. Never
 * returns a demotion of the leader, a promotion to voter of a member that
 * is not reachable and caught up, or a demotion that leaves fewer than a
 * majority of the voters live when they were a majority before. */
int placement_next(const struct placement_member *m, unsigned n,
		   unsigned max_voters, struct placement_change *out);

/* Target role of every member: roles[i] receives the role of m[i].
 * m: borrowed array of n members; roles: borrowed array of n ints, written
 * only on success. Returns the number of voters in the target (>= 1) or a
 * negative enum placement_error. */
int placement_target(const struct placement_member *m, unsigned n,
		     unsigned max_voters, int *roles);

/* Whether the current voter set is well placed: the input is valid, the
 * leader is a voter, 1 <= voters <= max_voters, and, when the live members
 * span 3 or more sites and max_voters >= 3, no site holds a majority of
 * the voters. It does not judge whether the number of voters is the best
 * one (compare with placement_target for that). False on bad input. */
bool placement_ok(const struct placement_member *m, unsigned n,
		  unsigned max_voters);

/* "spare", "standby", "voter"; "unknown" for anything else. Never NULL. */
const char *placement_role_name(int role);

#endif
