/* users: the poolpairctl commands on users (docs/api.md, "Data plane"):
 * `user enable|disable|set|get|locate`, through the agent named by --api
 * (see data.h: a write only the owner of the user set accepts; another
 * agent's 421 is reported as "not the owner: ask OWNER_API").
 *
 * Every run function follows struct ctl_command: it takes a borrowed ctl
 * and parsed arguments and returns CTL_OK, CTL_FAILED or CTL_USAGE. */
#ifndef POOLPAIR_CTL_USERS_H
#define POOLPAIR_CTL_USERS_H

#include "agent/ctl/ctl.h"

/* Whether kind names a user data kind: profile, contacts or settings. */
int users_kind_valid(const char *kind);

/* `user enable SIP --pool POOL`: POST /v1/users. */
int users_cmd_enable(struct ctl *ctl, const struct ctl_args *a);

/* `user disable SIP`: DELETE /v1/users/{sip}. */
int users_cmd_disable(struct ctl *ctl, const struct ctl_args *a);

/* `user set SIP KIND (--value JSON | --file FILE|-)`: the value is read
 * and checked as JSON (at most DATA_MAX_VALUE bytes) before anything is
 * sent; PUT /v1/users/{sip}/{kind}. a->opt[0] is --value, a->opt[1]
 * --file. */
int users_cmd_set(struct ctl *ctl, const struct ctl_args *a);

/* `user get SIP KIND`: GET /v1/users/{sip}/{kind}. Prints only the value
 * on ctl->out and "epoch E, seq S, copy own|backup|standby" on ctl->err; with
 * --json the whole answer on ctl->out. */
int users_cmd_get(struct ctl *ctl, const struct ctl_args *a);

/* `user locate SIP`: GET /v1/users/{sip}/location. */
int users_cmd_locate(struct ctl *ctl, const struct ctl_args *a);

#endif
