/* content: the poolpairctl commands that stream conference content
 * (docs/api.md, "Data plane"): `content upload|download`, through the
 * agent named by --api (see data.h). A file is sent from disk and
 * received to disk in pieces, never held in memory.
 *
 * The timeout of the client bounds connecting and any stretch without
 * progress, not the whole transfer. A progress bar (percentage, bytes,
 * rate) is drawn on ctl->err while it is a terminal.
 *
 * Every run function follows struct ctl_command: it takes a borrowed ctl
 * and parsed arguments and returns CTL_OK, CTL_FAILED or CTL_USAGE. */
#ifndef POOLPAIR_CTL_CONTENT_H
#define POOLPAIR_CTL_CONTENT_H

#include "agent/ctl/ctl.h"

/* `content upload SIP CONF NAME FILE`: streams the regular file FILE as
 * PUT /v1/users/{sip}/conferences/{conf}/content/{name}
 * (application/octet-stream, with its length). */
int content_cmd_upload(struct ctl *ctl, const struct ctl_args *a);

/* `content download SIP CONF NAME FILE`: streams
 * GET /v1/users/{sip}/conferences/{conf}/content/{name} into FILE, or to
 * ctl->out when FILE is "-". A file is written beside FILE under a
 * temporary name and renamed to FILE only when the whole content arrived;
 * on failure FILE is left as it was. */
int content_cmd_download(struct ctl *ctl, const struct ctl_args *a);

#endif
