/* failover: the poolpairctl commands that move user sets and the CMS
 * between paired pools, check the two copies of a user set, and rebuild a
 * lost majority (docs/api.md, "Failover").
 *
 *   failover POOL [--disaster] [--what-if] [--force]
 *       POST /v1/pools/{POOL}/failover {"disaster", "what_if", "force"}
 *   failback POOL [--what-if] [--force]
 *       POST /v1/pools/{POOL}/failback {"disaster": false, "what_if",
 *       "force"}
 *   cms failover [--what-if] [--force]
 *       POST /v1/cms/failover {"what_if", "force"}
 *   backup verify POOL [--no-repair]
 *       POST /v1/backup/{POOL}/verify[?repair=false]
 *   recover --force-quorum
 *       POST /v1/recover {"force_quorum": true}
 *
 * A failover or failback is answered by the leader once the move finished
 * (at most 60 s), so those calls use a client timeout of at least
 * FAILOVER_CALL_TIMEOUT_MS; backup verify may take up to about 135 s and
 * uses at least VERIFY_CALL_TIMEOUT_MS. A larger --timeout is kept.
 *
 * With --what-if nothing changes: the answer (allowed, why, planned or
 * disaster, whether the CMS moves, the data at risk) is printed, and the
 * exit code is CTL_OK when the move would be allowed, CTL_FAILED when not.
 *
 * Run functions follow struct ctl_command: a borrowed ctl and parsed
 * arguments; they return CTL_OK, CTL_FAILED or CTL_USAGE. With --json they
 * print the server's answer. */
#ifndef POOLPAIR_CTL_FAILOVER_H
#define POOLPAIR_CTL_FAILOVER_H

#include "agent/ctl/ctl.h"

#define FAILOVER_CALL_TIMEOUT_MS 75000L /* failover, failback, cms */
#define VERIFY_CALL_TIMEOUT_MS 150000L	/* backup verify */

/* `failover POOL [--disaster] [--what-if] [--force]`: a->opt[0] is
 * --disaster, a->opt[1] --what-if, a->opt[2] --force. Prints the outcome
 * ("pool-east failed over to pool-west (epoch 2); the CMS moved to
 * pool-west") or the what-if answer. */
int failover_cmd_failover(struct ctl *ctl, const struct ctl_args *a);

/* `failback POOL [--what-if] [--force]`: a->opt[0] is --what-if,
 * a->opt[1] --force. A refusal (not_caught_up, ...) prints the server's
 * reason, which names the lag. */
int failover_cmd_failback(struct ctl *ctl, const struct ctl_args *a);

/* `cms failover [--what-if] [--force]`: a->opt[0] is --what-if, a->opt[1]
 * --force. */
int failover_cmd_cms(struct ctl *ctl, const struct ctl_args *a);

/* `backup verify POOL [--no-repair]`: a->opt[0] is --no-repair. Asked of
 * the agent given by --api; a 421 answer naming the owner's API is
 * repeated there once. Prints the item counts, the buckets that differ,
 * every difference (kind, key, problem, repaired, note) and whether the
 * copies are equal afterwards. Returns CTL_FAILED when a difference was
 * left unrepaired, the copies still differ, or the check did not
 * complete. */
int failover_cmd_verify(struct ctl *ctl, const struct ctl_args *a);

/* `recover --force-quorum`: a->opt[0] is --force-quorum, required
 * (CTL_USAGE without it). Writes a warning on ctl->err before sending. */
int failover_cmd_recover(struct ctl *ctl, const struct ctl_args *a);

#endif
