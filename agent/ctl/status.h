/* status: the poolpairctl status command, and the rendering it shares
 * with the other commands: cells from JSON values, byte counts, the
 * tables of members, pools and SBAs, the CMS placement. Every ctl is
 * borrowed and its out/err streams are written to. */
#ifndef POOLPAIR_AGENT_CTL_STATUS_H
#define POOLPAIR_AGENT_CTL_STATUS_H

#include <jansson.h>
#include <stddef.h>

#include "agent/ctl/ctl.h"
#include "agent/ctl/table.h"

/* Write n bytes in a short human form ("512 B", "1.5 KiB", "45.0 MiB",
 * "1.20 GiB") into buf (len bytes, len > 0). Returns buf. */
const char *ctl_format_bytes(double n, char *buf, size_t len);

/* Add a cell with the text of a JSON value v (borrowed, may be NULL):
 * strings as they are ("" as "-"), numbers, booleans as yes/no, null or
 * absent as "-". */
void ctl_cell_json(struct table *t, json_t *v);

/* ctl_cell_json of obj's member key. */
void ctl_cell_key(struct table *t, json_t *obj, const char *key);

/* Print t on ctl->out (or say out of memory if building it failed), then
 * close t. Returns CTL_OK or CTL_FAILED. */
int ctl_render(struct ctl *ctl, struct table *t);

/* Tables of a members, pools or sbas array (borrowed) on ctl->out. cms
 * (borrowed, may be NULL) is the CMS object of a status, to also mark the
 * standby pool. Return CTL_OK or CTL_FAILED. */
int ctl_render_members(struct ctl *ctl, json_t *members);
int ctl_render_pools(struct ctl *ctl, json_t *pools, json_t *cms);
int ctl_render_sbas(struct ctl *ctl, json_t *sbas);

/* Say the CMS placement (cms borrowed, may be NULL) after prefix. */
void ctl_say_cms(struct ctl *ctl, const char *prefix, json_t *cms);

/* The status command (a ctl_command handler). */
int ctl_cmd_status(struct ctl *ctl, const struct ctl_args *a);

#endif
