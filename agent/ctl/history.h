/* history: `poolpairctl history [--limit N] [--before SEQ]`
 * (GET /v1/history?limit=N[&before=SEQ]): N decisions (1 to 1000,
 * default 50) before decision SEQ (a number from 1; default: the newest),
 * shown oldest first as a table SEQ TIME WHO WHAT RESULT, with a DATA AT
 * RISK column when a decision on the page named one; refusals show their
 * code and reason, forced decisions "(forced)". "no decisions yet" (or
 * "no decisions before SEQ") when the page is empty.
 *
 * The run function follows struct ctl_command: a borrowed ctl and parsed
 * arguments (a->opt[0] --limit, a->opt[1] --before); it returns CTL_OK,
 * CTL_FAILED or CTL_USAGE. With --json it prints the server's answer. */
#ifndef POOLPAIR_CTL_HISTORY_H
#define POOLPAIR_CTL_HISTORY_H

#include "agent/ctl/ctl.h"

int history_cmd(struct ctl *ctl, const struct ctl_args *a);

#endif
