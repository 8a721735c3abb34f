/* members_internal: what the parts of the members module (members.c,
 * members_join.c, members_heartbeat.c, members_report.c, members_lease.c,
 * members_place.c)
 * call of each other, and the pure steps the unit tests drive. Not part
 * of the module's interface: only those files and tests/unit/test_members*
 * include it. Loop thread only. */
#ifndef POOLPAIR_AGENT_MEMBERS_INTERNAL_H
#define POOLPAIR_AGENT_MEMBERS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/members.h"
#include "agent/request.h"

#define MEMBERS_MS 1000000ULL /* ns per ms */

struct hclient_response;

/* The monotonic clock of the module, in ns. */
static inline uint64_t members_now_ns(const struct members *m)
{
	return clock_mono_ns(m->d.clock);
}

/* Whether the module is closing (or closed): callbacks then do nothing. */
static inline bool members_closing(const struct members *m)
{
	return m->state == MEMBERS_CLOSING || m->state == MEMBERS_CLOSED;
}

/* ---- members.c ---- */

/* Where the leader's API is: from the applied state, else the hint of a
 * follower's 307, else the join URL. 0 and host (HCLIENT_HOST_MAX bytes)
 * and *port set, or -1 when none is known. */
int members_leader_target(struct members *m, char *host, uint16_t *port);

/* A call to the leader ended: remember the leader a follower named in a
 * 307; anything else that failed forgets the hint. */
void members_learn_hint(struct members *m, int err,
			const struct hclient_response *resp);

/* The window within which the leader counts a member reachable: lease +
 * grace, in ns. */
uint64_t members_reachable_window_ns(const struct members *m);

/* Leader view: member id silent for longer than window_ns (since it was
 * last heard, or since members_regime_since_ns() when not since)? Never
 * this agent. */
bool members_silent_for(struct members *m, uint64_t id, uint64_t window_ns);

/* ---- members_join.c ---- */

/* The follower side of each tick: registration and join. */
void members_register_tick(struct members *m);
void members_join_tick(struct members *m);

/* Parse a registration body into *out. 0, or -1 with err filled (400
 * bad_json: not the JSON object of the seven fields, or id < 1; 400
 * invalid: a field too long). */
int members_registration_parse(const char *body, size_t len,
			       struct fsm_member *out,
			       struct request_error *err);

/* Whether server id at address may be added to configuration c: 0 (add
 * it); 1 when it is already there with that id and address (*role
 * receives its RAFT_* role); -1 when its id or its address is there with
 * the other (msg, len bytes, says which member). */
int members_join_check(const struct raft_configuration *c, uint64_t id,
		       const char *address, int *role, char *msg, size_t len);

/* ---- members_heartbeat.c ---- */

/* The follower side of each tick: the heartbeat to the leader (with the
 * echo of its last answer) and the report to every other agent. */
void members_heartbeat_tick(struct members *m);

/* The leader side of each tick: its report to every other agent (a pool
 * agent). */
void members_leader_report_tick(struct members *m);

/* This agent's report (a new reference, NULL out of memory). With
 * extended, the seeds it takes part in and the seeding figures of its
 * sets, a standby's copy positions ("copies") and a writer's standbys
 * ("standbys"), when there are any; without (or when there are none) the
 * report is exactly as an earlier version's, whose parser refuses any
 * other key. *has_seeds says whether there are any of them. */
json_t *members_report_json(struct members *m, bool extended,
			    bool *has_seeds);

/* An agent that refused a report with seeds (400: an earlier version) is
 * sent the report without them for this long, then the full one again
 * (it may have been upgraded meanwhile). */
#define MEMBERS_PLAIN_NS (600ULL * 1000000000ULL)

/* Remember that the agent at host:port refused a report with seeds. */
void members_plain_mark(struct members *m, const char *host, uint16_t port);

/* Whether host:port is to get the report without seeds now. */
bool members_plain_wanted(struct members *m, const char *host,
			  uint16_t port);

/* A heartbeat or report body, parsed. */
struct members_heartbeat {
	uint64_t id;
	struct members_report report;
	bool has_echo;
	struct members_echo echo;
	bool has_regime; /* "regime": {"term", "age_ms"} (lease.h) */
	uint64_t regime_term;
	uint64_t regime_age_ms;
	/* its heartbeats' round trip to the leader ("rtt", optional) */
	bool has_rtt;
	uint64_t srtt_us;
	uint64_t rttvar_us;
};

/* Parse a heartbeat (or report) body into *hb. 0, or -1 when it is not
 * {"id": N >= 1, "applied": N >= 0, "sets"?: [...], "streams"?: [...],
 * "lease"?: bool, "echo"?: {"clock_ms", "term", "leader" all >= 1},
 * "regime"?: {"term" >= 1, "age_ms" >= 0},
 * "rtt"?: {"srtt_us" >= 1, "rttvar_us" >= 0},
 * "seeds"?: [...], "copies"?: [...], "standbys"?: [...]} (more sets,
 * streams, seeds, copies or standbys than kept are ignored).
 * A set's "seeding", "seed_items" and "seed_items_total" and the "seeds"
 * are optional: a report of an earlier version has none. */
int members_heartbeat_parse(const char *body, size_t len,
			    struct members_heartbeat *hb);

/* What the leader answers a heartbeat. */
struct members_answer {
	uint64_t term;
	uint64_t leader;   /* this agent's id */
	unsigned lease_ms; /* members_lease_grant() */
	uint64_t commit_index;
	uint64_t clock_ms; /* this agent's monotonic clock, in ms */
	bool regime;	   /* takes the regime report (always, this version) */
};

/* The leader received heartbeat hb: record it, take its echo, and fill
 * *out. */
void members_heartbeat_received(struct members *m,
				const struct members_heartbeat *hb,
				struct members_answer *out);

/* The follower got answer body (len bytes) to the heartbeat it sent at
 * sent_ns: the lease it grants, counted from sent_ns (lease_answer()),
 * whatever heartbeats left or were answered since; and the clock to echo
 * next when it is the newest of its term and leader. An answer that is
 * not JSON changes nothing. */
void members_heartbeat_answered(struct members *m, uint64_t sent_ns,
				const char *body, size_t len);

/* A free heartbeat slot, marked busy with sent_ns the module's clock now;
 * NULL when MEMBERS_HB_INFLIGHT heartbeats are in flight. */
struct members_hb *members_hb_take(struct members *m);

/* The heartbeat h is answered (or failed): its slot is free again. */
void members_hb_release(struct members_hb *h);

/* A heartbeat answered rtt_ns after it left: the smoothed round trip and
 * its variation (RFC 6298: first sample r: srtt r, rttvar r/2; then
 * rttvar 3/4 rttvar + 1/4 |srtt - r|, srtt 7/8 srtt + 1/8 r). */
void members_hb_rtt(struct members *m, uint64_t rtt_ns);

/* How long a heartbeat waits for its answer, in ms: four retransmission
 * timeouts of the measured round trip (4 (srtt + 4 rttvar): room for the
 * answer to come after a lost segment was sent again, twice), at least 4
 * heartbeat intervals (as before any sample) and at most the lease less
 * the drift margin (an answer later than that cannot extend the lease:
 * no grant exceeds the lease, and it counts from the send time). */
unsigned members_hb_timeout_ms(const struct members *m);

/* ---- members_lease.c ---- */

/* Every tick, leader true when this agent leads: the leader starts a
 * barrier when none is in flight and takes what its echoes prove; an agent
 * that does not lead forgets its echoes and proofs. */
void members_lease_tick(struct members *m, bool leader);

/* ---- members_regime.c ---- */

/* Every tick, leader true when this agent leads: its contact with itself
 * (a leader), the regime reports' term, whether the voter set is stable. */
void members_regime_tick(struct members *m, bool leader);

/* A contact with the leader of term (0: unknown, earlier than any) now:
 * a heartbeat answer arrived, or this agent answers one as the leader. */
void members_regime_answer(struct members *m, uint64_t term);

/* To a heartbeat's body: "regime": {"term", "age_ms"} (lease.h), when the
 * last answer came from the leader this agent sees now, in its term, and
 * said it takes the report. 0 or -1 (out of memory). */
int members_regime_add(struct members *m, json_t *body);

/* Leader side: member from reported it is in term and heard no leader of
 * an earlier term for age_ms. Ignored when this agent does not lead. */
void members_regime_seen(struct members *m, uint64_t from, uint64_t term,
			 uint64_t age_ms);

/* ---- members_place.c ---- */

/* The leader side of each tick: at most one placement change. */
void members_place_tick(struct members *m);

/* ---- members_eto.c ---- */

/* Each tick: the Raft election timeout scaled to the round trip of this
 * agent's Raft peers (consensus/election_timeout.h): a follower's
 * heartbeats to the leader, or the leader's voters' as they report it. */
void members_eto_tick(struct members *m);

#endif
