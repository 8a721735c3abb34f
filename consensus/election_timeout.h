/* election_timeout: the Raft election timeout an agent runs with, scaled to
 * the measured round trip of its Raft peers. Pure: no I/O, no clock.
 *
 * One lost segment on Raft's connection is recovered only by TCP's
 * retransmission timer; when the configured election timeout is shorter
 * than that, a single loss looks like a dead leader (followers start an
 * election, a leader that has not heard from a majority within the timeout
 * steps down). The timeout in effect is
 *
 *   max(configured, ELECTION_TIMEOUT_K x (srtt + 4 rttvar))
 *
 * with srtt and rttvar the smoothed round trip and its variation (RFC 6298,
 * the retransmission timeout without its floor), at most
 * ELECTION_TIMEOUT_CEIL x configured. K = 4 leaves room for the original
 * send and two or three linear retransmissions (TCP_THIN_LINEAR_TIMEOUTS,
 * tls/tcp_thin.h). It rises at once; it falls by 1/ELECTION_TIMEOUT_DECAY
 * of the difference per step (per heartbeat tick), so that a few quiet
 * round trips in the middle of a lossy period do not bring it back down.
 * On a clean network (a round trip well under configured / 20) it is the
 * configured value. Election timeout is not part of lease safety
 * (agent/lease.h): the lease rests on heartbeat answers and echoes, never
 * on how long a follower waits before it stands. */
#ifndef POOLPAIR_CONSENSUS_ELECTION_TIMEOUT_H
#define POOLPAIR_CONSENSUS_ELECTION_TIMEOUT_H

#include <stdint.h>

#define ELECTION_TIMEOUT_K 4
#define ELECTION_TIMEOUT_CEIL 8
#define ELECTION_TIMEOUT_DECAY 32

/* The timeout (ms) the round trip asks for: ELECTION_TIMEOUT_K x (srtt +
 * 4 rttvar), rounded up to a ms; 0 when srtt_us is 0 (no sample). */
unsigned election_timeout_wanted(uint64_t srtt_us, uint64_t rttvar_us);

/* The next timeout in effect, from the current one (0: none yet), the
 * configured one (>= 1) and the round trip (srtt_us 0: no sample, which
 * asks for nothing more than configured). Always within [configured,
 * ELECTION_TIMEOUT_CEIL x configured]. */
unsigned election_timeout_next(unsigned configured_ms, unsigned current_ms,
			       uint64_t srtt_us, uint64_t rttvar_us);

#endif
