/* conference: the poolpairctl commands on a user's conferences
 * (docs/api.md, "Data plane"): `conference schedule|get`, through the
 * agent named by --api (see data.h). Their content: content.h.
 *
 * Every run function follows struct ctl_command: it takes a borrowed ctl
 * and parsed arguments and returns CTL_OK, CTL_FAILED or CTL_USAGE. */
#ifndef POOLPAIR_CTL_CONFERENCE_H
#define POOLPAIR_CTL_CONFERENCE_H

#include "agent/ctl/ctl.h"

/* `conference schedule SIP ID (--value JSON | --file FILE|-)`:
 * PUT /v1/users/{sip}/conferences/{id}. Options as users_cmd_set(). */
int conference_cmd_schedule(struct ctl *ctl, const struct ctl_args *a);

/* `conference get SIP ID`: GET /v1/users/{sip}/conferences/{id}; output
 * as users_cmd_get(). */
int conference_cmd_get(struct ctl *ctl, const struct ctl_args *a);

#endif
