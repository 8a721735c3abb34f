/* users: the poolpairctl data-plane commands of a pool agent.
 *
 * `user enable|disable|set|get|locate`, `conference schedule|get` and
 * `content upload|download` (docs/api.md, "Data plane"). They talk to the
 * agent named by --api through their own transfer on the client's easy
 * handle, base URL and timeout, because user data may be any JSON value
 * and conference content is streamed: a file is sent from disk and
 * received to disk in pieces, never held in memory. A 307/308 answer is
 * followed like client_request() does (the body is sent again from its
 * start); a 421 answer names the agent that owns the user set and is
 * reported as "not the owner: ask OWNER_API" (exit 1).
 *
 * For content the timeout of the client bounds connecting and any stretch
 * without progress, not the whole transfer. A progress bar (percentage,
 * bytes, rate) is drawn on ctl->err while it is a terminal.
 *
 * Every run function follows struct ctl_command: it takes a borrowed ctl
 * and parsed arguments and returns CTL_OK, CTL_FAILED or CTL_USAGE. */
#ifndef POOLPAIR_CTL_USERS_H
#define POOLPAIR_CTL_USERS_H

#include <stddef.h>
#include <stdint.h>

#include "agent/ctl/commands.h"

#define USERS_MAX_VALUE (1024L * 1024) /* bytes of one JSON value */
#define USERS_MAX_SIP 255	       /* characters of a SIP URI */

/* Whether s is a SIP URI the API accepts: "sip:USER@HOST", at most
 * USERS_MAX_SIP characters, USER and HOST non-empty and made of
 * [A-Za-z0-9._+~-]. */
int users_sip_valid(const char *s);

/* Whether kind names a user data kind: profile, contacts or settings. */
int users_kind_valid(const char *kind);

/* Write n bytes in a short human form ("512 B", "1.5 KiB", "45.0 MiB",
 * "1.20 GiB") into buf (len bytes, len > 0). Returns buf. */
const char *users_format_bytes(double n, char *buf, size_t len);

/* `user enable SIP --pool POOL`: POST /v1/users. */
int users_cmd_enable(struct ctl *ctl, const struct ctl_args *a);

/* `user disable SIP`: DELETE /v1/users/{sip}. */
int users_cmd_disable(struct ctl *ctl, const struct ctl_args *a);

/* `user set SIP KIND (--value JSON | --file FILE|-)`: the value is read
 * and checked as JSON (at most USERS_MAX_VALUE bytes) before anything is
 * sent; PUT /v1/users/{sip}/{kind}. a->opt[0] is --value, a->opt[1]
 * --file. */
int users_cmd_set(struct ctl *ctl, const struct ctl_args *a);

/* `user get SIP KIND`: GET /v1/users/{sip}/{kind}. Prints only the value
 * on ctl->out and "epoch E, seq S, copy own|backup" on ctl->err; with
 * --json the whole answer on ctl->out. */
int users_cmd_get(struct ctl *ctl, const struct ctl_args *a);

/* `user locate SIP`: GET /v1/users/{sip}/location. */
int users_cmd_locate(struct ctl *ctl, const struct ctl_args *a);

/* `conference schedule SIP ID (--value JSON | --file FILE|-)`:
 * PUT /v1/users/{sip}/conferences/{id}. Options as users_cmd_set(). */
int users_cmd_conference_schedule(struct ctl *ctl, const struct ctl_args *a);

/* `conference get SIP ID`: GET /v1/users/{sip}/conferences/{id}; output
 * as users_cmd_get(). */
int users_cmd_conference_get(struct ctl *ctl, const struct ctl_args *a);

/* `content upload SIP CONF NAME FILE`: streams the regular file FILE as
 * PUT /v1/users/{sip}/conferences/{conf}/content/{name}
 * (application/octet-stream, with its length). */
int users_cmd_content_upload(struct ctl *ctl, const struct ctl_args *a);

/* `content download SIP CONF NAME FILE`: streams
 * GET /v1/users/{sip}/conferences/{conf}/content/{name} into FILE, or to
 * ctl->out when FILE is "-". A file is written beside FILE under a
 * temporary name and renamed to FILE only when the whole content arrived;
 * on failure FILE is left as it was. */
int users_cmd_content_download(struct ctl *ctl, const struct ctl_args *a);

#endif
