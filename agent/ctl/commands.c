/* commands: the table of poolpairctl commands and its look-up (see
 * commands.h). */
#include "agent/ctl/commands.h"

#include <string.h>

#include "agent/ctl/backup.h"
#include "agent/ctl/cluster.h"
#include "agent/ctl/conference.h"
#include "agent/ctl/content.h"
#include "agent/ctl/failover.h"
#include "agent/ctl/history.h"
#include "agent/ctl/pools.h"
#include "agent/ctl/rebuild.h"
#include "agent/ctl/status.h"
#include "agent/ctl/topology.h"
#include "agent/ctl/users.h"

/* The table. Option indexes in a->opt follow the order of opts. */
static const struct ctl_command ctl_commands[] = {
    {"status", 0, 0, {NULL}, ctl_cmd_status, "status"},
    {"member list", 0, 0, {NULL}, cluster_cmd_member_list, "member list"},
    {"member add",
     2,
     2,
     {"role=", NULL},
     cluster_cmd_member_add,
     "member add ID ADDRESS [--role voter|standby|spare]"},
    {"member remove",
     1,
     1,
     {NULL},
     cluster_cmd_member_remove,
     "member remove ID"},
    {"pool add",
     1,
     1,
     {"site=", "edition=", "kind=", "os=", "capacity=", NULL},
     pools_cmd_add,
     "pool add NAME --site S --edition enterprise|standard "
     "--kind physical|virtual --os OS [--capacity N]"},
    {"pool list", 0, 0, {NULL}, pools_cmd_list, "pool list"},
    {"pool remove", 1, 1, {NULL}, pools_cmd_remove, "pool remove NAME"},
    {"pool pause",
     1,
     1,
     {"reason=", NULL},
     pools_cmd_pause,
     "pool pause NAME [--reason TEXT]"},
    {"pool resume",
     1,
     1,
     {"reason=", NULL},
     pools_cmd_resume,
     "pool resume NAME [--reason TEXT]"},
    {"pool writer",
     2,
     2,
     {NULL},
     pools_cmd_writer,
     "pool writer POOL MEMBER"},
    {"pool rebuild-status",
     1,
     1,
     {"follow", NULL},
     rebuild_cmd_status,
     "pool rebuild-status POOL [--follow]"},
    {"site add", 1, 1, {NULL}, cluster_cmd_site_add, "site add NAME"},
    {"site list", 0, 0, {NULL}, cluster_cmd_site_list, "site list"},
    {"site remove", 1, 1, {NULL}, cluster_cmd_site_remove, "site remove NAME"},
    /* before "pair": "pair mode" is its own command */
    {"pair mode",
     2,
     2,
     {"sync-timeout=", NULL},
     pools_cmd_pair_mode,
     "pair mode POOL async|sync [--sync-timeout D]"},
    {"pair",
     2,
     2,
     {"force", "mode=", "sync-timeout=", NULL},
     pools_cmd_pair,
     "pair A B [--force] [--mode async|sync] [--sync-timeout D]"},
    {"unpair", 1, 1, {NULL}, pools_cmd_unpair, "unpair POOL"},
    {"sba add",
     1,
     1,
     {"site=", "backup-pool=", NULL},
     pools_cmd_sba_add,
     "sba add NAME --site S --backup-pool POOL"},
    {"sba list", 0, 0, {NULL}, pools_cmd_sba_list, "sba list"},
    {"sba remove", 1, 1, {NULL}, pools_cmd_sba_remove, "sba remove NAME"},
    {"cms show", 0, 0, {NULL}, cluster_cmd_cms_show, "cms show"},
    {"cms failover",
     0,
     0,
     {"what-if", "force", "disaster", NULL},
     failover_cmd_cms,
     "cms failover [--disaster] [--what-if] [--force]"},
    {"failover",
     1,
     1,
     {"disaster", "what-if", "force", NULL},
     failover_cmd_failover,
     "failover POOL [--disaster] [--what-if] [--force]"},
    {"failback",
     1,
     1,
     {"what-if", "force", NULL},
     failover_cmd_failback,
     "failback POOL [--what-if] [--force]"},
    {"recover",
     0,
     0,
     {"force-quorum", NULL},
     failover_cmd_recover,
     "recover --force-quorum"},
    {"topology apply",
     1,
     1,
     {"dry-run", NULL},
     topology_apply,
     "topology apply FILE|- [--dry-run]"},
    {"history",
     0,
     0,
     {"limit=", "before=", NULL},
     history_cmd,
     "history [--limit N] [--before SEQ]"},
    {"backup status", 0, 0, {NULL}, backup_cmd_status, "backup status"},
    {"backup sync",
     1,
     1,
     {"wait=", NULL},
     backup_cmd_sync,
     "backup sync POOL [--wait SECONDS]"},
    {"backup verify",
     1,
     1,
     {"no-repair", NULL},
     failover_cmd_verify,
     "backup verify POOL [--no-repair]"},
    {"divergence list",
     0,
     0,
     {"limit=", NULL},
     backup_cmd_divergence_list,
     "divergence list [--limit N]"},
    {"user enable",
     1,
     1,
     {"pool=", NULL},
     users_cmd_enable,
     "user enable SIP --pool POOL"},
    {"user disable", 1, 1, {NULL}, users_cmd_disable, "user disable SIP"},
    {"user set",
     2,
     2,
     {"value=", "file=", NULL},
     users_cmd_set,
     "user set SIP profile|contacts|settings (--value JSON | --file "
     "FILE|-)"},
    {"user get",
     2,
     2,
     {NULL},
     users_cmd_get,
     "user get SIP profile|contacts|settings"},
    {"user locate", 1, 1, {NULL}, users_cmd_locate, "user locate SIP"},
    {"conference schedule",
     2,
     2,
     {"value=", "file=", NULL},
     conference_cmd_schedule,
     "conference schedule SIP ID (--value JSON | --file FILE|-)"},
    {"conference get",
     2,
     2,
     {NULL},
     conference_cmd_get,
     "conference get SIP ID"},
    {"content upload",
     4,
     4,
     {NULL},
     content_cmd_upload,
     "content upload SIP CONF NAME FILE"},
    {"content download",
     4,
     4,
     {NULL},
     content_cmd_download,
     "content download SIP CONF NAME FILE|-"},
};

#define CTL_NCOMMANDS (sizeof(ctl_commands) / sizeof(ctl_commands[0]))

/* Length of the first word of name. */
static size_t first_word_len(const char *name)
{
	const char *sp = strchr(name, ' ');

	return sp != NULL ? (size_t)(sp - name) : strlen(name);
}

const struct ctl_command *ctl_command_find(int argc, char *const argv[],
					   int *words)
{
	size_t i;

	if (argc < 1)
		return NULL;
	for (i = 0; i < CTL_NCOMMANDS; i++) {
		const char *name = ctl_commands[i].name;
		size_t n = first_word_len(name);

		if (strlen(argv[0]) != n || strncmp(name, argv[0], n) != 0)
			continue;
		if (name[n] == '\0') {
			*words = 1;
			return &ctl_commands[i];
		}
		if (argc >= 2 && strcmp(name + n + 1, argv[1]) == 0) {
			*words = 2;
			return &ctl_commands[i];
		}
	}
	return NULL;
}

int ctl_command_usages(FILE *out, const char *group)
{
	int lines = 0;
	size_t i;

	for (i = 0; i < CTL_NCOMMANDS; i++) {
		const char *name = ctl_commands[i].name;
		size_t n = first_word_len(name);

		if (group != NULL &&
		    (strlen(group) != n || strncmp(name, group, n) != 0))
			continue;
		if (out != NULL)
			fprintf(out, "usage: poolpairctl %s\n",
				ctl_commands[i].usage);
		lines++;
	}
	return lines;
}
