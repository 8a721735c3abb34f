/* backup: the poolpairctl commands that show replication between paired
 * pools: `backup status` (GET /v1/backup, one row per direction and
 * category) and `divergence list` (GET /v1/divergence, the archived writes
 * that were never shipped or arrived with a stale epoch).
 *
 * Run functions follow struct ctl_command: a borrowed ctl and parsed
 * arguments; they return CTL_OK, CTL_FAILED or CTL_USAGE. With --json they
 * print the server's answer. */
#ifndef POOLPAIR_CTL_BACKUP_H
#define POOLPAIR_CTL_BACKUP_H

#include "agent/ctl/ctl.h"

#define BACKUP_MAX_LIMIT 10000 /* largest --limit of divergence list */

/* `backup status`: table FROM TO CATEGORY STATE HEAD ACKED LAG(REC)
 * LAG(BYTES) LAG(S) REC/S RATIO ERROR. */
int backup_cmd_status(struct ctl *ctl, const struct ctl_args *a);

/* `divergence list [--limit N]` (a->opt[0]: 1 to BACKUP_MAX_LIMIT; absent:
 * the server's default): table ID USER-SET EPOCH SEQ KEY VALUE (cut short)
 * ARCHIVED REASON. */
int backup_cmd_divergence_list(struct ctl *ctl, const struct ctl_args *a);

/* backup sync POOL [--wait SECONDS]: flush, show progress on a terminal,
 * and wait until the pair acknowledged every change of POOL's user set. */
int backup_cmd_sync(struct ctl *ctl, const struct ctl_args *a);

#endif
