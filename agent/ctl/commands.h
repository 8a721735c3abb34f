/* commands: the table of poolpairctl commands.
 *
 * Each command is one entry of a table: its name ("pool add"), how many
 * positional arguments it takes, its options and a run function (in the
 * file of its family: cluster.c, pools.c, status.c, failover.c,
 * topology.c, history.c, backup.c, users.c, conference.c, content.c)
 * that sends the HTTP call(s) of docs/api.md and renders the answer as
 * text (or, with --json, prints the server's JSON). Arguments arrive
 * parsed (see struct ctl_args); a run function checks their values itself
 * and answers CTL_USAGE for bad ones. */
#ifndef POOLPAIR_CTL_COMMANDS_H
#define POOLPAIR_CTL_COMMANDS_H

#include <stdio.h>

#include "agent/ctl/ctl.h"

/* The command named by the first one or two words of argv (argc >= 1).
 * Returns the command (static storage) and sets *words to the number of
 * words its name used, or NULL when no command has that name. */
const struct ctl_command *ctl_command_find(int argc, char *const argv[],
					   int *words);

/* Write "usage: poolpairctl USAGE" lines for every command whose first
 * word is group (all commands when group is NULL) to out (borrowed; NULL
 * only counts). Returns the number of such commands. */
int ctl_command_usages(FILE *out, const char *group);

#endif
