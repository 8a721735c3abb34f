/* status: helpers shared by the two files of the poolpairctl commands
 * module, commands.c and status.c; not used outside them. Every ctl is
 * borrowed and its out/err streams are written to. */
#ifndef POOLPAIR_AGENT_CTL_STATUS_H
#define POOLPAIR_AGENT_CTL_STATUS_H

#include <jansson.h>

#include "agent/ctl/commands.h"
#include "agent/ctl/table.h"

/* ---- in commands.c ---- */

/* Say "out of memory" on ctl->err. Returns CTL_FAILED. */
int ctl_out_of_memory(struct ctl *ctl);

/* Say "bad answer: <what>" on ctl->err. Returns CTL_FAILED. */
int ctl_bad_answer(struct ctl *ctl, const char *what);

/* ---- in status.c ---- */

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
