/* commands: the poolpairctl commands.
 *
 * Each command is one entry of a table: its name ("pool add"), how many
 * positional arguments it takes, its options and a run function that sends
 * the HTTP call(s) of docs/api.md and renders the answer as text (or, with
 * --json, prints the server's JSON). Arguments arrive parsed (see
 * struct ctl_args); a run function checks their values itself and answers
 * CTL_USAGE for bad ones.
 *
 * All output goes to ctl->out (results) and ctl->err (errors, as
 * "poolpairctl: CODE: MESSAGE"). */
#ifndef POOLPAIR_CTL_COMMANDS_H
#define POOLPAIR_CTL_COMMANDS_H

#include <jansson.h>
#include <stdio.h>

#include "agent/ctl/client.h"

/* Exit codes of poolpairctl; run functions return one of them. */
enum ctl_exit {
	CTL_OK = 0,	/* done */
	CTL_FAILED = 1, /* refused by the server or failed */
	CTL_USAGE = 2,	/* bad command line */
};

#define CTL_MAX_POS 4  /* positional arguments of one command */
#define CTL_MAX_OPTS 8 /* options of one command */

/* What every command works with. */
struct ctl {
	struct client *client; /* borrowed, initialised */
	int json;	       /* print the server's JSON instead of text */
	FILE *out;	       /* borrowed: results */
	FILE *err;	       /* borrowed: errors */
};

struct ctl_command;

/* A command line after option parsing. Strings are borrowed from argv. */
struct ctl_args {
	const struct ctl_command *cmd; /* borrowed: the command run */
	const char *pos[CTL_MAX_POS];  /* positional arguments */
	size_t npos;		       /* cmd->min_pos <= npos <= max_pos */
	const char *opt[CTL_MAX_OPTS]; /* per cmd->opts entry: the value,
					* "" for a flag given, NULL absent */
};

struct ctl_command {
	const char *name; /* one or two words: "status", "pool add" */
	size_t min_pos;
	size_t max_pos;
	/* NULL-terminated option names without "--"; a trailing '=' means
	 * the option takes a value ("site="), else it is a flag ("force"). */
	const char *opts[CTL_MAX_OPTS + 1];
	int (*run)(struct ctl *ctl, const struct ctl_args *a);
	const char *usage; /* "pool add NAME --site S ..." */
};

/* The command named by the first one or two words of argv (argc >= 1).
 * Returns the command (static storage) and sets *words to the number of
 * words its name used, or NULL when no command has that name. */
const struct ctl_command *ctl_command_find(int argc, char *const argv[],
					   int *words);

/* Write "usage: poolpairctl USAGE" lines for every command whose first
 * word is group (all commands when group is NULL) to out (borrowed; NULL
 * only counts). Returns the number of such commands. */
int ctl_command_usages(FILE *out, const char *group);

/* Report a bad command line for a->cmd: "poolpairctl: MESSAGE" and the
 * command's usage line on ctl->err. Returns CTL_USAGE. */
int ctl_usage_error(struct ctl *ctl, const struct ctl_args *a, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

/* Send one request (see client_request; body borrowed, may be NULL). On a
 * 2xx answer returns CTL_OK and *resp is the answer (owned by the caller,
 * may be NULL when the body was empty). Otherwise reports the failure on
 * ctl->err ("poolpairctl: CODE: MESSAGE" from a JSON error, or the
 * transport error), with --json also prints an error body to ctl->out,
 * and returns CTL_FAILED with *resp NULL. */
int ctl_call(struct ctl *ctl, const char *method, const char *path,
	     json_t *body, json_t **resp);

/* GET path; with --json print the answer and set *list NULL; else set
 * *list to the array under key (its owner is *resp, which the caller
 * releases). Returns CTL_OK or CTL_FAILED (reported on ctl->err). */
int ctl_get_list(struct ctl *ctl, const char *path, const char *key,
		 json_t **resp, json_t **list);

/* Print v (borrowed; NULL prints nothing) as indented JSON and a newline
 * on ctl->out. Returns CTL_OK, or CTL_FAILED when it cannot be written. */
int ctl_print_json(struct ctl *ctl, json_t *v);

/* Print one line (printf-style, the newline is added) on f (borrowed),
 * writing control characters as '?' so that text from the server cannot
 * reach the terminal as escape sequences. */
void ctl_say(FILE *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
