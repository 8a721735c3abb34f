/* cluster: the poolpairctl commands on the cluster's members and sites
 * and on where the CMS is (docs/api.md, "Control plane"):
 *
 *   member list                       GET /v1/members
 *   member add ID ADDRESS [--role R]  POST /v1/members {"id", "address",
 * "role"?} member remove ID                  DELETE /v1/members/{id} site add
 * NAME                     POST /v1/sites {"name"} site list GET /v1/sites site
 * remove NAME                  DELETE /v1/sites/{name} cms show GET /v1/cms
 *
 * Run functions follow struct ctl_command: a borrowed ctl and parsed
 * arguments; they return CTL_OK, CTL_FAILED or CTL_USAGE. Writes print
 * what was done and the decision number; with --json every command
 * prints the server's answer. */
#ifndef POOLPAIR_CTL_CLUSTER_H
#define POOLPAIR_CTL_CLUSTER_H

#include "agent/ctl/ctl.h"

/* `member list`: table of the members, or "no members". */
int cluster_cmd_member_list(struct ctl *ctl, const struct ctl_args *a);

/* `member add ID ADDRESS [--role voter|standby|spare]`: ID a number > 0
 * (a->pos[0]), ADDRESS not empty (a->pos[1]), a->opt[0] the role. */
int cluster_cmd_member_add(struct ctl *ctl, const struct ctl_args *a);

/* `member remove ID`. */
int cluster_cmd_member_remove(struct ctl *ctl, const struct ctl_args *a);

/* `site add NAME`, `site list`, `site remove NAME`. */
int cluster_cmd_site_add(struct ctl *ctl, const struct ctl_args *a);
int cluster_cmd_site_list(struct ctl *ctl, const struct ctl_args *a);
int cluster_cmd_site_remove(struct ctl *ctl, const struct ctl_args *a);

/* `cms show`: the active and standby pool of the CMS and its epoch. */
int cluster_cmd_cms_show(struct ctl *ctl, const struct ctl_args *a);

#endif
