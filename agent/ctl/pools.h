/* pools: the poolpairctl commands on pools, their pairs and the SBAs
 * they back up (docs/api.md, "Control plane"):
 *
 *   pool add NAME --site S --edition E --kind K --os OS [--capacity N]
 *                                     POST /v1/pools
 *   pool list                         GET /v1/pools
 *   pool remove NAME                  DELETE /v1/pools/{name}
 *   pool pause|resume NAME [--reason TEXT]
 *                                     POST /v1/pools/{name}/pause|resume
 *   pool writer POOL MEMBER           POST /v1/pools/{pool}/writer
 *   pair A B [--force] [--mode M] [--sync-timeout D]
 *                                     POST /v1/pairs
 *   pair mode POOL async|sync [--sync-timeout D]
 *                                     PUT /v1/pairs/{pool}
 *   unpair POOL                       DELETE /v1/pairs/{pool}
 *   sba add NAME --site S --backup-pool POOL
 *                                     POST /v1/sbas
 *   sba list                          GET /v1/sbas
 *   sba remove NAME                   DELETE /v1/sbas/{name}
 *
 * Options are checked before anything is sent (edition enterprise or
 * standard, kind physical or virtual, capacity 0..2^32-1, mode async or
 * sync, a sync timeout a duration of 1 ms .. 1 h such as 1500ms, 2s,
 * 1m). Run functions follow struct ctl_command: a borrowed ctl and parsed
 * arguments; they return CTL_OK, CTL_FAILED or CTL_USAGE. Writes print
 * what was done and the decision number (a forced pair also a warning
 * with its reason on ctl->err); with --json every command prints the
 * server's answer. Option indexes in a->opt follow the command table. */
#ifndef POOLPAIR_CTL_POOLS_H
#define POOLPAIR_CTL_POOLS_H

#include "agent/ctl/ctl.h"

int pools_cmd_add(struct ctl *ctl, const struct ctl_args *a);
int pools_cmd_list(struct ctl *ctl, const struct ctl_args *a);
int pools_cmd_remove(struct ctl *ctl, const struct ctl_args *a);
int pools_cmd_pause(struct ctl *ctl, const struct ctl_args *a);
int pools_cmd_resume(struct ctl *ctl, const struct ctl_args *a);
int pools_cmd_writer(struct ctl *ctl, const struct ctl_args *a);

int pools_cmd_pair(struct ctl *ctl, const struct ctl_args *a);
int pools_cmd_pair_mode(struct ctl *ctl, const struct ctl_args *a);
int pools_cmd_unpair(struct ctl *ctl, const struct ctl_args *a);

int pools_cmd_sba_add(struct ctl *ctl, const struct ctl_args *a);
int pools_cmd_sba_list(struct ctl *ctl, const struct ctl_args *a);
int pools_cmd_sba_remove(struct ctl *ctl, const struct ctl_args *a);

#endif
