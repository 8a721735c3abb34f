/* rebuild: poolpairctl pool rebuild-status POOL [--follow], where the
 * rebuild of a pool's copy from its pair stands (GET
 * /v1/pools/{pool}/rebuild, docs/api.md).
 *
 * Without --follow: one look, the pool's state, whether it is being
 * rebuilt and caught up, and a row per seed that runs (items, bytes,
 * rate, time left); exit 0. With --follow it keeps asking until the pool
 * is caught up (then says so and exits 0): on a terminal a progress bar
 * over every seed redrawn in place twice a second, otherwise a plain line
 * per seed every 2 s. An error (the agent unreachable, an unknown pool, a
 * pool without a pair to rebuild from) ends it with exit 1 and the
 * reason. With --json each answer is printed as it is. */
#ifndef POOLPAIR_CTL_REBUILD_H
#define POOLPAIR_CTL_REBUILD_H

#include "agent/ctl/ctl.h"

/* The command (a ctl_command handler; a->opt[0] is --follow). */
int rebuild_cmd_status(struct ctl *ctl, const struct ctl_args *a);

#endif
