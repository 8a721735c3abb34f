/* ctl: what every poolpairctl command works with: the exit codes, the
 * ctl (client and output streams), the parsed arguments, and the helpers
 * every command uses to call the API, check its arguments and print.
 *
 * Output goes to ctl->out (results) and ctl->err (errors, as
 * "poolpairctl: CODE: MESSAGE"). Every ctl is borrowed. Functions that
 * return an exit code return CTL_OK, CTL_FAILED or CTL_USAGE and have
 * reported on ctl->err whatever they refused or what failed. */
#ifndef POOLPAIR_CTL_CTL_H
#define POOLPAIR_CTL_CTL_H

#include <jansson.h>
#include <stdarg.h>
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

/* Say "out of memory" on ctl->err. Returns CTL_FAILED. */
int ctl_out_of_memory(struct ctl *ctl);

/* Say "bad answer: <what>" on ctl->err. Returns CTL_FAILED. */
int ctl_bad_answer(struct ctl *ctl, const char *what);

/* Print a finished write: with --json the answer, else the sentence
 * (printf-style) and " (decision N)" when the answer names one, on
 * ctl->out. Releases resp. Returns CTL_OK or CTL_FAILED. */
int ctl_write_done(struct ctl *ctl, json_t *resp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with the text after the sentence given (trailer, "" for none)
 * and the arguments as a va_list; what every "done" printer calls. */
int ctl_vwrite_done(struct ctl *ctl, json_t *resp, const char *trailer,
		    const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* POST body (owned: released here; NULL: out of memory) to path; as
 * ctl_call(). */
int ctl_post_owned(struct ctl *ctl, const char *path, json_t *body,
		   json_t **resp);

/* DELETE PREFIX/NAME (name escaped) and say done_fmt (a printf format
 * with one %s: the name) as ctl_write_done() does. */
int ctl_delete_named(struct ctl *ctl, const char *prefix, const char *name,
		     const char *done_fmt);

/* "PREFIX/ESCAPED(seg)" (malloc()ed, owned by the caller) or NULL when
 * out of memory. */
char *ctl_path_join(const char *prefix, const char *seg);

/* A decimal without sign, at most max. Returns 0 and *out, or -1. */
int ctl_parse_uint(const char *s, unsigned long long max,
		   unsigned long long *out);

/* Refuse arguments and options that cannot go into a JSON body (not
 * valid UTF-8). Returns CTL_OK or CTL_USAGE (reported). */
int ctl_args_utf8(struct ctl *ctl, const struct ctl_args *a);

/* Whether s is one of the NULL-terminated allowed. */
int ctl_one_of(const char *s, const char *const *allowed);

#endif
