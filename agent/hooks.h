/* hooks: run one operator hook command (pre_failover, fence,
 * on_owner_change) asynchronously on a libuv loop, with a timeout.
 *
 * A hook runs as `/bin/sh -c COMMAND` in its own session and process group
 * (setsid), with:
 *   - stdin         /dev/null;
 *   - stdout/stderr one pipe, of which only the last HOOKS_OUTPUT_TAIL bytes
 *                   are kept (the "output tail");
 *   - environment   the agent's environment without any inherited
 *                   POOLPAIR_* variable, plus POOLPAIR_HOOK=<name> and the
 *                   POOLPAIR_* variables given by the caller.
 *
 * When timeout_ms passes, the whole process group gets SIGTERM, and SIGKILL
 * HOOKS_KILL_GRACE_MS later if the shell is still there. When the shell
 * has exited, output is read until end of file for at most HOOKS_DRAIN_MS;
 * then whatever the command left behind in its process group (background
 * jobs) is killed with SIGKILL. A hook never outlives its callback.
 *
 * Life of a hook:
 *
 *   hooks_run() == 0  ->  the callback fires exactly once, later, from a loop
 *                         callback (never from inside hooks_run() or
 *                         hooks_cancel()): normal exit, death by a signal,
 *                         timeout or cancellation.
 *   hooks_run()  < 0  ->  the callback never fires.
 *
 * The hook's memory is released only once its libuv handles have closed,
 * so the loop must run a little longer after the callback; uv_loop_close()
 * succeeds once it has. The outcome is logged (info when it succeeded,
 * warn otherwise) with hooks_outcome_summary().
 *
 * Every function here is loop-thread only: call it from the thread that
 * runs the loop given to hooks_run(). No global state of its own; libuv
 * installs its SIGCHLD handler for the loop at the first spawn.
 */
#ifndef POOLPAIR_AGENT_HOOKS_H
#define POOLPAIR_AGENT_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* Bytes of combined stdout/stderr kept: the last ones written. */
#define HOOKS_OUTPUT_TAIL 4096

/* After SIGTERM on timeout, how long before SIGKILL. */
#define HOOKS_KILL_GRACE_MS 1000

/* After the shell exited, how long to wait for the end of its output. */
#define HOOKS_DRAIN_MS 200

/* Buffer size that holds any hook name and its NUL. */
#define HOOKS_NAME_MAX 32

/* Longest command accepted, in bytes. */
#define HOOKS_COMMAND_MAX 4096

/* Most variables a caller may pass, and the longest name and value. */
#define HOOKS_ENV_MAX 32
#define HOOKS_ENV_NAME_MAX 64
#define HOOKS_ENV_VALUE_MAX 4096

/* Prefix every variable name passed to hooks_run() must carry. */
#define HOOKS_ENV_PREFIX "POOLPAIR_"

/* One environment variable given to a hook; both strings borrowed (copied
 * by hooks_run()). */
struct hook_env {
	const char *name;  /* "POOLPAIR_" then one or more of [A-Z0-9_];
			      at most HOOKS_ENV_NAME_MAX bytes */
	const char *value; /* any string (it cannot hold NUL); at most
			      HOOKS_ENV_VALUE_MAX bytes; may be empty */
};

/* How a hook ended. */
struct hook_outcome {
	char name[HOOKS_NAME_MAX]; /* the hook's name, as given */
	int exit_status;	   /* the shell's exit status 0..255, or -1
				      when it was killed by a signal */
	int term_signal;	   /* the signal that killed the shell, or 0 */
	bool timed_out;		   /* timeout_ms passed and the group was
				      signalled */
	bool cancelled;		   /* hooks_cancel() was called */
	unsigned timeout_ms;	   /* as given to hooks_run() */
	uint64_t duration_ms;	   /* from spawn to the shell's exit */
	/* The last HOOKS_OUTPUT_TAIL bytes of stdout and stderr together,
	 * NUL-terminated. Sanitized: '\n' and '\t' are kept, every other
	 * control character becomes ' ', and bytes that are not part of valid
	 * UTF-8 (a sequence cut at the start of the tail included) become
	 * '?', so the text can go into JSON and log lines as is. */
	char output[HOOKS_OUTPUT_TAIL + 1];
	size_t output_len;     /* strlen(output) */
	bool output_truncated; /* the command wrote more than the tail */
};

/* Completion callback, called exactly once per hook accepted by
 * hooks_run(). outcome is borrowed and valid only during the call: copy
 * what you need. When it runs, the handle returned through hooks_run()'s
 * out is dead: do not pass it to hooks_cancel() from here or later. The
 * callback may start new hooks. */
typedef void (*hooks_cb)(void *arg, const struct hook_outcome *outcome);

/* One running hook; opaque, owned by this module. */
struct hook;

/* Start `command` as hook `name`.
 *
 * loop        the loop to run on (borrowed; must outlive the hook).
 * name        the hook's name, 1..HOOKS_NAME_MAX-1 bytes of [a-z0-9_]
 *             ("pre_failover", "fence", "on_owner_change"); passed to the
 *             command as POOLPAIR_HOOK and used in log lines. Copied.
 * command     a shell command line, 1..HOOKS_COMMAND_MAX bytes, run by
 *             /bin/sh -c. Borrowed; copied.
 * env, n_env  n_env (0..HOOKS_ENV_MAX) variables for the command; env may
 *             be NULL when n_env is 0. Borrowed; copied. Names must be
 *             distinct and may not be POOLPAIR_HOOK (this module sets it).
 * timeout_ms  > 0: how long the command may run before its process group
 *             is killed (config [failover] hook_timeout).
 * cb, arg     completion callback (required) and its argument (borrowed;
 *             must stay valid until the callback has run).
 * out         NULL, or where to store the hook handle for hooks_cancel();
 *             it stays valid until the callback starts running. Left
 *             untouched on error.
 *
 * Returns 0 when the command started (the callback will fire once), or:
 *   UV_EINVAL   a bad argument (NULL loop, command or cb; bad or too long
 *               name; empty or too long command; too many variables; a
 *               variable name not matching POOLPAIR_[A-Z0-9_]+, duplicated
 *               or POOLPAIR_HOOK; a NULL or too long value; timeout 0);
 *   UV_ENOMEM   out of memory;
 *   another negative libuv code from creating the pipe or spawning
 *               /bin/sh (UV_ENOENT, UV_EAGAIN, UV_EMFILE, ...).
 * On error no process is left running and the callback never fires; the
 * memory of a half-started hook is released once the loop has run its
 * close callbacks. A command the shell cannot find is not an error here:
 * the hook runs and ends with exit status 127. */
int hooks_run(uv_loop_t *loop, const char *name, const char *command,
	      const struct hook_env *env, size_t n_env, unsigned timeout_ms,
	      hooks_cb cb, void *arg, struct hook **out);

/* Stop a hook whose callback has not run yet, e.g. at agent shutdown.
 *
 * The process group gets SIGKILL at once (unless the shell already exited;
 * its leftovers are then killed as usual). The callback fires later, from
 * the loop, as soon as the shell has been reaped, with cancelled set and
 * the real exit status or signal. Calling it again before the callback is
 * harmless. Precondition: hook came from hooks_run() and its callback has
 * not started; calling it from inside or after the callback is a
 * use-after-free. */
void hooks_cancel(struct hook *hook);

/* Whether a hook succeeded: the shell exited with status 0, within the
 * timeout, and was not cancelled. (A pre_failover hook that did not
 * succeed aborts an automatic move.) outcome is borrowed. */
bool hooks_outcome_ok(const struct hook_outcome *outcome);

/* A short one-line human summary of an outcome, for logs, status and
 * history, e.g.
 *   "exit 0 in 12 ms"
 *   "exit 3 in 40 ms: <last non-empty line of the output>"
 *   "killed by signal 9 after timeout 10000 ms"
 *   "exit 0 after timeout 500 ms"
 *   "killed by signal 11 in 8 ms: <last line>"
 *   "cancelled, killed by signal 9 in 120 ms"
 * The output line is included only when the hook did not succeed.
 *
 * outcome  borrowed.
 * buf      output buffer of len bytes (> 0); always NUL-terminated and a
 *          single line (no control characters).
 * Returns 0, UV_ENOBUFS when the summary was cut to fit (buf still holds
 * its beginning), or UV_EINVAL when outcome or buf is NULL or len is 0
 * (buf then untouched). */
int hooks_outcome_summary(const struct hook_outcome *outcome, char *buf,
			  size_t len);

#endif /* POOLPAIR_AGENT_HOOKS_H */
