/* failover_internal: what failover.c, failover_peer.c and failover_api.c
 * share (failover.h says what the module does). Loop thread only. */
#ifndef POOLPAIR_FAILOVER_INTERNAL_H
#define POOLPAIR_FAILOVER_INTERNAL_H

#include "agent/failover.h"
#include "consensus/cmd.h"

#define FO_MOD "failover"
#define FO_MS 1000000ULL
#define FO_STEP_TIMEOUT_MS 15000 /* a takeover or hook that hangs */
#define FO_DRAIN_TIMEOUT_MS 30000
#define FO_VERIFY_TIMEOUT_MS 120000 /* verify and repair before a failback */
#define FO_WAIT_MAX_MS 60000
#define FO_AUTO_RETRY_MS 2000 /* between automatic attempts that fail */

/* ---- failover.c ---- */

/* The slot of pool (made when new); NULL when every slot is taken. */
struct failover_pool *failover_slot(struct failover *fo, const char *pool);

/* Move fp to step next, logging old -> new and when. */
void failover_step_set(struct failover *fo, struct failover_pool *fp,
		       int next);

/* Heard within the lease; down: silent for lease + grace. */
uint64_t failover_alive_ms(const struct failover *fo);
uint64_t failover_down_ms(const struct failover *fo);

/* Who and when of a command proposed now (who borrowed). */
struct cmd_ctx failover_cmd_now(const struct failover *fo, const char *who);

/* Propose the command packed by a cmd_* constructor that returned packed
 * (cmd taken in every case); what names it in the log. When it has an
 * outcome the pool's FO_PROPOSING step ends. Returns 0 or a negative
 * code (logged). */
int failover_propose(struct failover *fo, const char *pool, int packed,
		     struct cmd_buf *cmd, const char *what);

/* The liveness operations (deps.liveness). */
static inline uint64_t failover_silence_ms(const struct failover *fo,
					   const char *pool)
{
	return fo->d.liveness.ops->silence_ms(fo->d.liveness.impl, pool);
}

static inline bool failover_report(const struct failover *fo, const char *pool,
				   const char *user_set, uint64_t max_age_ms,
				   struct failover_lag *lag, uint64_t *age_ms)
{
	return fo->d.liveness.ops->report(fo->d.liveness.impl, pool, user_set,
					  max_age_ms, lag, age_ms);
}

/* ---- failover_peer.c: the calls to the new owner ---- */

/* Ask the agent of p's pair to take p's user set over, then commit the
 * decision prepared in fp (a disaster begin, or the complete of a
 * planned failover). Leaves fp FO_IDLE with fp->refusal set when it
 * cannot. */
void failover_takeover(struct failover *fo, struct failover_pool *fp,
		       const struct fsm_pool *p);

/* p drained back to its home pool: the owner (its pair) verifies both
 * copies and repairs the returning pool's, then the failback completes.
 * Tried again after 1 s when it cannot be asked or leaves them unequal. */
void failover_failback_verify(struct failover *fo, struct failover_pool *fp,
			      const struct fsm_pool *p, uint64_t now_ms);

/* ---- failover_api.c ---- */

/* Answer the waits of API calls whose outcome came (or timed out); start
 * a disaster move that was waiting for the pool's lease to run out. */
void failover_waits_tick(struct failover *fo);

/* Answer every wait 503 (shutting down) and free it. */
void failover_waits_close(struct failover *fo);

#endif
