/* Tests for agent/hooks.c: real /bin/sh commands on a private libuv loop.
 *
 * Every test that starts a hook runs the loop dry and asserts that
 * uv_loop_close() succeeds, so a leaked handle fails the test; an
 * unreferenced guard timer stops a loop that would otherwise hang. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "agent/hooks.h"
#include "agent/log.h"

#define GUARD_MS 8000

/* ---- fixture ---------------------------------------------------------- */

struct fx {
	uv_loop_t loop;
	uv_timer_t guard;
	uv_timer_t cancel_timer;
	bool loop_closed;
	bool hung;
	struct hook *hook;

	int calls;
	int calls_in_cancel; /* callbacks run from inside hooks_cancel() */
	bool in_cancel;
	struct hook_outcome outcome; /* copy of what the callback got */
	uint64_t t_start;
	uint64_t t_done;
};

static void guard_fired(uv_timer_t *timer)
{
	struct fx *fx = timer->data;

	fx->hung = true;
	uv_stop(&fx->loop);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);

	assert_non_null(fx);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	assert_int_equal(uv_timer_init(&fx->loop, &fx->guard), 0);
	fx->guard.data = fx;
	assert_int_equal(uv_timer_start(&fx->guard, guard_fired, GUARD_MS, 0),
			 0);
	uv_unref((uv_handle_t *)&fx->guard);
	assert_int_equal(uv_timer_init(&fx->loop, &fx->cancel_timer), 0);
	fx->cancel_timer.data = fx;
	*state = fx;
	return 0;
}

static void close_any(uv_handle_t *handle, void *arg)
{
	(void)arg;
	if (!uv_is_closing(handle))
		uv_close(handle, NULL);
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	if (!fx->loop_closed) {
		/* A test failed half way: tear down whatever is left. */
		uv_walk(&fx->loop, close_any, NULL);
		uv_run(&fx->loop, UV_RUN_DEFAULT);
		uv_loop_close(&fx->loop);
	}
	free(fx);
	return 0;
}

/* Run until nothing is left, then require a clean loop close. */
static void fx_finish(struct fx *fx)
{
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_false(fx->hung);
	uv_close((uv_handle_t *)&fx->cancel_timer, NULL);
	uv_close((uv_handle_t *)&fx->guard, NULL);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	fx->loop_closed = true;
}

static void on_done(void *arg, const struct hook_outcome *outcome)
{
	struct fx *fx = arg;

	fx->calls++;
	if (fx->in_cancel)
		fx->calls_in_cancel++;
	fx->t_done = uv_hrtime();
	fx->hook = NULL;
	fx->outcome = *outcome;
}

/* Start a hook with the fixture's callback; asserts it started. */
static void fx_run(struct fx *fx, const char *name, const char *command,
		   const struct hook_env *env, size_t n_env,
		   unsigned timeout_ms)
{
	fx->t_start = uv_hrtime();
	assert_int_equal(hooks_run(&fx->loop, name, command, env, n_env,
				   timeout_ms, on_done, fx, &fx->hook),
			 0);
	assert_non_null(fx->hook);
	assert_int_equal(fx->calls, 0);
}

static uint64_t fx_elapsed_ms(const struct fx *fx)
{
	return (fx->t_done - fx->t_start) / 1000000u;
}

/* Whether pid no longer runs (gone, or a zombie nobody reaped yet). Polls
 * for up to two seconds, since the orphan's reaping is not ours. */
static bool pid_gone(pid_t pid)
{
	char path[64];
	char buf[512];
	char *p;
	FILE *f;
	int i;

	for (i = 0; i < 200; i++) {
		if (kill(pid, 0) != 0 && errno == ESRCH)
			return true;
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		f = fopen(path, "r");
		if (f == NULL)
			return true;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		if (p != NULL) {
			p = strrchr(buf, ')');
			if (p != NULL && (p[2] == 'Z' || p[2] == 'X'))
				return true;
		}
		usleep(10000);
	}
	return false;
}

/* ---- normal exits ----------------------------------------------------- */

static void test_exit_zero_output(void **state)
{
	struct fx *fx = *state;
	char summary[128];

	fx_run(fx, "fence", "echo hello; echo oops >&2", NULL, 0, 5000);
	fx_finish(fx);

	assert_int_equal(fx->calls, 1);
	assert_string_equal(fx->outcome.name, "fence");
	assert_int_equal(fx->outcome.exit_status, 0);
	assert_int_equal(fx->outcome.term_signal, 0);
	assert_false(fx->outcome.timed_out);
	assert_false(fx->outcome.cancelled);
	assert_int_equal(fx->outcome.timeout_ms, 5000);
	assert_string_equal(fx->outcome.output, "hello\noops\n");
	assert_int_equal(fx->outcome.output_len, strlen("hello\noops\n"));
	assert_false(fx->outcome.output_truncated);
	assert_true(fx->outcome.duration_ms <= fx_elapsed_ms(fx));
	assert_true(hooks_outcome_ok(&fx->outcome));

	assert_int_equal(
	    hooks_outcome_summary(&fx->outcome, summary, sizeof(summary)), 0);
	assert_int_equal(strncmp(summary, "exit 0 in ", 10), 0);
	assert_non_null(strstr(summary, " ms"));
	assert_null(strchr(summary, ':')); /* no output quoted on success */
}

static void test_nonzero_exit(void **state)
{
	struct fx *fx = *state;
	char summary[128];
	char expect[128];

	fx_run(fx, "pre_failover",
	       "echo checking; echo 'pair not ready' >&2; exit 3", NULL, 0,
	       5000);
	fx_finish(fx);

	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx->outcome.exit_status, 3);
	assert_int_equal(fx->outcome.term_signal, 0);
	assert_false(fx->outcome.timed_out);
	assert_string_equal(fx->outcome.output, "checking\npair not ready\n");
	assert_false(hooks_outcome_ok(&fx->outcome));

	assert_int_equal(
	    hooks_outcome_summary(&fx->outcome, summary, sizeof(summary)), 0);
	snprintf(expect, sizeof(expect), "exit 3 in %llu ms: pair not ready",
		 (unsigned long long)fx->outcome.duration_ms);
	assert_string_equal(summary, expect);
}

static void test_env_visible(void **state)
{
	struct fx *fx = *state;
	const struct hook_env env[] = {
	    {"POOLPAIR_POOL", "pool-east"},
	    {"POOLPAIR_PAIR", "pool-west"},
	    {"POOLPAIR_EPOCH", "7"},
	    {"POOLPAIR_REASON", "lease expired; pool unreachable"},
	    {"POOLPAIR_DISASTER", "1"},
	    {"POOLPAIR_NEW_OWNER", ""},
	};

	/* Inherited variables go through, inherited POOLPAIR_* ones do not. */
	assert_int_equal(setenv("HOOKS_TEST_INHERITED", "yes", 1), 0);
	assert_int_equal(setenv("POOLPAIR_STALE", "old", 1), 0);
	assert_int_equal(setenv("POOLPAIR_POOL", "wrong-pool", 1), 0);
	fx_run(fx, "fence",
	       "echo \"$POOLPAIR_HOOK|$POOLPAIR_POOL|$POOLPAIR_PAIR|"
	       "$POOLPAIR_EPOCH|$POOLPAIR_REASON|$POOLPAIR_DISASTER|"
	       "${POOLPAIR_NEW_OWNER-unset}|${POOLPAIR_STALE-unset}|"
	       "$HOOKS_TEST_INHERITED\"",
	       env, sizeof(env) / sizeof(env[0]), 5000);
	unsetenv("HOOKS_TEST_INHERITED");
	unsetenv("POOLPAIR_STALE");
	unsetenv("POOLPAIR_POOL");
	fx_finish(fx);

	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx->outcome.exit_status, 0);
	assert_string_equal(fx->outcome.output,
			    "fence|pool-east|pool-west|7|lease expired; pool "
			    "unreachable|1||unset|yes\n");
}

static void test_stdin_is_dev_null(void **state)
{
	struct fx *fx = *state;

	/* cat would block forever on an inherited terminal or pipe. */
	fx_run(fx, "fence", "cat; echo \"eof $?\"", NULL, 0, 5000);
	fx_finish(fx);

	assert_int_equal(fx->calls, 1);
	assert_false(fx->outcome.timed_out);
	assert_string_equal(fx->outcome.output, "eof 0\n");
}

static void test_command_not_found(void **state)
{
	struct fx *fx = *state;
	char summary[256];

	fx_run(fx, "on_owner_change", "/nonexistent/poolpair-update-dns", NULL,
	       0, 5000);
	fx_finish(fx);

	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx->outcome.exit_status, 127);
	assert_int_equal(fx->outcome.term_signal, 0);
	assert_false(hooks_outcome_ok(&fx->outcome));
	assert_non_null(strstr(fx->outcome.output, "poolpair-update-dns"));
	assert_int_equal(
	    hooks_outcome_summary(&fx->outcome, summary, sizeof(summary)), 0);
	assert_int_equal(strncmp(summary, "exit 127 in ", 12), 0);
	assert_non_null(strstr(summary, ": "));
}

/* ---- output ----------------------------------------------------------- */

static void test_large_output_keeps_tail(void **state)
{
	struct fx *fx = *state;
	char *all;
	size_t len = 0;
	int i;

	fx_run(fx, "fence",
	       "i=0; while [ $i -lt 3000 ]; do echo \"line $i\"; "
	       "i=$((i+1)); done",
	       NULL, 0, 5000);
	fx_finish(fx);

	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx->outcome.exit_status, 0);
	all = malloc(3000 * 16);
	assert_non_null(all);
	for (i = 0; i < 3000; i++)
		len += (size_t)sprintf(all + len, "line %d\n", i);
	assert_true(len > HOOKS_OUTPUT_TAIL);
	assert_true(fx->outcome.output_truncated);
	assert_int_equal(fx->outcome.output_len, HOOKS_OUTPUT_TAIL);
	assert_int_equal(strlen(fx->outcome.output), HOOKS_OUTPUT_TAIL);
	assert_memory_equal(fx->outcome.output, all + len - HOOKS_OUTPUT_TAIL,
			    HOOKS_OUTPUT_TAIL);
	free(all);
}

static void test_output_sanitized(void **state)
{
	struct fx *fx = *state;

	/* BEL, ESC, CR, DEL, an invalid byte, a valid two-byte character, a
	 * C1 control, a surrogate encoded in three bytes, a tab. */
	fx_run(fx, "fence",
	       "printf 'a\\007b\\033[1mc\\r\\n\\177\\377\\303\\251"
	       "\\302\\205\\355\\240\\200\\tz\\n'",
	       NULL, 0, 5000);
	fx_finish(fx);

	assert_int_equal(fx->calls, 1);
	assert_string_equal(fx->outcome.output,
			    "a b [1mc \n ?\xc3\xa9 ???\tz\n");
	assert_int_equal(fx->outcome.output_len, strlen(fx->outcome.output));
}

/* ---- timeout ---------------------------------------------------------- */

static void test_timeout_kills_group(void **state)
{
	struct fx *fx = *state;
	char summary[128];
	long child;

	/* The background sleep is the shell's child, in the same group. */
	fx_run(fx, "fence", "sleep 30 & echo $!; sleep 30", NULL, 0, 300);
	fx_finish(fx);

	assert_int_equal(fx->calls, 1);
	assert_true(fx->outcome.timed_out);
	assert_false(fx->outcome.cancelled);
	assert_int_equal(fx->outcome.exit_status, -1);
	assert_int_equal(fx->outcome.term_signal, SIGTERM);
	/* Loop time has millisecond steps: allow a little slack. */
	assert_true(fx->outcome.duration_ms + 5 >= 300);
	assert_true(fx_elapsed_ms(fx) < 3000);
	assert_false(hooks_outcome_ok(&fx->outcome));

	child = strtol(fx->outcome.output, NULL, 10);
	assert_true(child > 1);
	assert_true(pid_gone((pid_t)child));

	assert_int_equal(
	    hooks_outcome_summary(&fx->outcome, summary, sizeof(summary)), 0);
	/* The output's last line, the job's pid, is quoted. */
	assert_int_equal(strncmp(summary,
				 "killed by signal 15 after timeout 300 ms: ",
				 strlen("killed by signal 15 after timeout 300 "
					"ms: ")),
			 0);
	assert_int_equal(strtol(strchr(summary, ':') + 2, NULL, 10), child);
}

static void test_timeout_escalates_to_sigkill(void **state)
{
	struct fx *fx = *state;
	long child;

	/* Ignored signals stay ignored across exec: neither the shell nor
	 * its children die of SIGTERM. */
	fx_run(fx, "fence", "trap '' TERM; sleep 30 & echo $!; sleep 30", NULL,
	       0, 200);
	fx_finish(fx);

	assert_int_equal(fx->calls, 1);
	assert_true(fx->outcome.timed_out);
	assert_int_equal(fx->outcome.term_signal, SIGKILL);
	assert_true(fx->outcome.duration_ms + 5 >= 200 + HOOKS_KILL_GRACE_MS);
	assert_true(fx_elapsed_ms(fx) < 200 + HOOKS_KILL_GRACE_MS + 2000);
	child = strtol(fx->outcome.output, NULL, 10);
	assert_true(child > 1);
	assert_true(pid_gone((pid_t)child));
}

static void test_leftovers_killed_after_exit(void **state)
{
	struct fx *fx = *state;
	long child;

	/* The shell exits at once but leaves a job holding the output pipe. */
	fx_run(fx, "on_owner_change", "sleep 30 & echo $!; exit 0", NULL, 0,
	       5000);
	fx_finish(fx);

	assert_int_equal(fx->calls, 1);
	assert_false(fx->outcome.timed_out);
	assert_int_equal(fx->outcome.exit_status, 0);
	assert_true(hooks_outcome_ok(&fx->outcome));
	/* Ended after the drain time, well before the timeout. */
	assert_true(fx_elapsed_ms(fx) >= HOOKS_DRAIN_MS);
	assert_true(fx_elapsed_ms(fx) < 3000);
	child = strtol(fx->outcome.output, NULL, 10);
	assert_true(child > 1);
	assert_true(pid_gone((pid_t)child));
}

/* ---- cancel ----------------------------------------------------------- */

static void cancel_now(uv_timer_t *timer)
{
	struct fx *fx = timer->data;

	assert_non_null(fx->hook);
	fx->in_cancel = true;
	hooks_cancel(fx->hook);
	hooks_cancel(fx->hook); /* a second call before the callback is fine */
	fx->in_cancel = false;
}

static void test_cancel_running(void **state)
{
	struct fx *fx = *state;
	char summary[128];

	fx_run(fx, "fence", "echo started; sleep 30", NULL, 0, 10000);
	assert_int_equal(uv_timer_start(&fx->cancel_timer, cancel_now, 150, 0),
			 0);
	fx_finish(fx);

	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx->calls_in_cancel, 0);
	assert_true(fx->outcome.cancelled);
	assert_false(fx->outcome.timed_out);
	assert_int_equal(fx->outcome.term_signal, SIGKILL);
	assert_true(fx_elapsed_ms(fx) < 3000);
	assert_string_equal(fx->outcome.output, "started\n");
	assert_false(hooks_outcome_ok(&fx->outcome));
	assert_int_equal(
	    hooks_outcome_summary(&fx->outcome, summary, sizeof(summary)), 0);
	assert_int_equal(strncmp(summary, "cancelled, killed by signal 9 in ",
				 strlen("cancelled, killed by signal 9 in ")),
			 0);
}

static void test_cancel_while_reaping(void **state)
{
	struct fx *fx = *state;
	long child;

	/* The shell exits at once; the job keeps the pipe open, so the hook
	 * sits in its drain time when the cancel comes. */
	fx_run(fx, "fence", "sleep 30 & echo $!; exit 0", NULL, 0, 10000);
	assert_int_equal(uv_timer_start(&fx->cancel_timer, cancel_now, 100, 0),
			 0);
	fx_finish(fx);

	assert_int_equal(fx->calls, 1);
	assert_int_equal(fx->calls_in_cancel, 0);
	assert_true(fx->outcome.cancelled);
	assert_int_equal(fx->outcome.exit_status, 0);
	assert_int_equal(fx->outcome.term_signal, 0);
	assert_false(hooks_outcome_ok(&fx->outcome));
	assert_true(fx_elapsed_ms(fx) < HOOKS_DRAIN_MS + 100);
	child = strtol(fx->outcome.output, NULL, 10);
	assert_true(child > 1);
	assert_true(pid_gone((pid_t)child));
}

/* ---- refused calls ---------------------------------------------------- */

static void refused(struct fx *fx, const char *name, const char *command,
		    const struct hook_env *env, size_t n_env,
		    unsigned timeout_ms, hooks_cb cb)
{
	struct hook *sentinel = (struct hook *)&fx->outcome;
	struct hook *out = sentinel;

	assert_int_equal(hooks_run(&fx->loop, name, command, env, n_env,
				   timeout_ms, cb, fx, &out),
			 UV_EINVAL);
	assert_ptr_equal(out, sentinel);
}

static void test_invalid_arguments(void **state)
{
	struct fx *fx = *state;
	static char long_value[HOOKS_ENV_VALUE_MAX + 2];
	static char long_command[HOOKS_COMMAND_MAX + 2];
	struct hook_env many[HOOKS_ENV_MAX + 1];
	char names[HOOKS_ENV_MAX + 1][32];
	const struct hook_env lower[] = {{"POOLPAIR_pool", "x"}};
	const struct hook_env path[] = {{"PATH", "/tmp"}};
	const struct hook_env bare[] = {{"POOLPAIR_", "x"}};
	const struct hook_env dash[] = {{"POOLPAIR_A-B", "x"}};
	const struct hook_env eq[] = {{"POOLPAIR_A=B", "x"}};
	const struct hook_env hook[] = {{"POOLPAIR_HOOK", "fence"}};
	const struct hook_env dup[] = {{"POOLPAIR_POOL", "a"},
				       {"POOLPAIR_POOL", "b"}};
	const struct hook_env null_value[] = {{"POOLPAIR_POOL", NULL}};
	const struct hook_env null_name[] = {{NULL, "x"}};
	const struct hook_env too_long[] = {{"POOLPAIR_POOL", long_value}};
	const struct hook_env good[] = {{"POOLPAIR_POOL", "a"}};
	size_t i;

	memset(long_value, 'v', sizeof(long_value) - 1);
	memset(long_command, 'c', sizeof(long_command) - 1);
	for (i = 0; i < HOOKS_ENV_MAX + 1; i++) {
		snprintf(names[i], sizeof(names[i]), "POOLPAIR_V%zu", i);
		many[i].name = names[i];
		many[i].value = "1";
	}

	refused(fx, "fence", "true", lower, 1, 1000, on_done);
	refused(fx, "fence", "true", path, 1, 1000, on_done);
	refused(fx, "fence", "true", bare, 1, 1000, on_done);
	refused(fx, "fence", "true", dash, 1, 1000, on_done);
	refused(fx, "fence", "true", eq, 1, 1000, on_done);
	refused(fx, "fence", "true", hook, 1, 1000, on_done);
	refused(fx, "fence", "true", dup, 2, 1000, on_done);
	refused(fx, "fence", "true", null_value, 1, 1000, on_done);
	refused(fx, "fence", "true", null_name, 1, 1000, on_done);
	refused(fx, "fence", "true", too_long, 1, 1000, on_done);
	refused(fx, "fence", "true", many, HOOKS_ENV_MAX + 1, 1000, on_done);
	refused(fx, "fence", "true", NULL, 1, 1000, on_done);
	refused(fx, "Fence", "true", good, 1, 1000, on_done);
	refused(fx, "", "true", good, 1, 1000, on_done);
	refused(fx, "fence-x", "true", good, 1, 1000, on_done);
	refused(fx, "a_hook_name_of_thirty_two_bytes_", "true", good, 1, 1000,
		on_done);
	refused(fx, NULL, "true", good, 1, 1000, on_done);
	refused(fx, "fence", "", good, 1, 1000, on_done);
	refused(fx, "fence", NULL, good, 1, 1000, on_done);
	refused(fx, "fence", long_command, good, 1, 1000, on_done);
	refused(fx, "fence", "true", good, 1, 0, on_done);
	refused(fx, "fence", "true", good, 1, 1000, NULL);
	assert_int_equal(
	    hooks_run(NULL, "fence", "true", good, 1, 1000, on_done, fx, NULL),
	    UV_EINVAL);

	/* Limits themselves are fine: HOOKS_ENV_MAX variables, a 31-byte
	 * name. */
	fx_run(fx, "a_hook_name_of_thirty_one_bytes", "echo $POOLPAIR_V31",
	       many, HOOKS_ENV_MAX, 5000);
	fx_finish(fx);
	assert_int_equal(fx->calls, 1);
	assert_string_equal(fx->outcome.output, "1\n");
}

/* A failure after the handles exist (uv_spawn() itself fails): nothing
 * runs, no callback, and the loop still closes with no handle left. */
static void test_spawn_failure_cleans_up(void **state)
{
	struct fx *fx = *state;
	char log_path[] = "/tmp/test_hooks_log_XXXXXX";
	char logged[1024];
	struct rlimit saved;
	struct rlimit low;
	struct hook *out = NULL;
	ssize_t n;
	int log_fd;
	int fd;
	int rv;

	log_fd = mkstemp(log_path);
	assert_true(log_fd >= 0);
	unlink(log_path);
	log_set_sink(log_fd, 0);

	/* Leave three free descriptors: the output pipe takes two, and
	 * uv_spawn() cannot get the ones it needs itself. */
	fd = open("/dev/null", O_RDONLY);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low = saved;
	low.rlim_cur = (rlim_t)fd + 3;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	rv = hooks_run(&fx->loop, "fence", "true", NULL, 0, 1000, on_done, fx,
		       &out);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	log_set_sink(2, -1);

	assert_int_equal(rv, UV_EMFILE);
	assert_null(out);
	fx_finish(fx);
	assert_int_equal(fx->calls, 0);

	/* It was uv_spawn() that failed, not the pipe before it. */
	n = pread(log_fd, logged, sizeof(logged) - 1, 0);
	close(log_fd);
	assert_true(n > 0);
	logged[n] = '\0';
	assert_non_null(strstr(logged, "hooks: fence: cannot start: "));
}

/* ---- summaries -------------------------------------------------------- */

static void test_summary(void **state)
{
	struct hook_outcome o;
	char buf[256];
	char small[12];
	size_t i;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.duration_ms = 12;
	o.timeout_ms = 10000;
	assert_true(hooks_outcome_ok(&o));
	assert_int_equal(hooks_outcome_summary(&o, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "exit 0 in 12 ms");

	strcpy(o.output, "step one\n\tno route to host  \n\n");
	o.output_len = strlen(o.output);
	o.exit_status = 3;
	assert_false(hooks_outcome_ok(&o));
	assert_int_equal(hooks_outcome_summary(&o, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "exit 3 in 12 ms: no route to host");

	o.exit_status = -1;
	o.term_signal = 9;
	o.timed_out = true;
	o.output[0] = '\0';
	o.output_len = 0;
	assert_int_equal(hooks_outcome_summary(&o, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "killed by signal 9 after timeout 10000 ms");

	o.exit_status = 0;
	o.term_signal = 0;
	o.timeout_ms = 500;
	assert_false(hooks_outcome_ok(&o));
	assert_int_equal(hooks_outcome_summary(&o, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "exit 0 after timeout 500 ms");

	o.timed_out = false;
	o.cancelled = true;
	assert_false(hooks_outcome_ok(&o));
	assert_int_equal(hooks_outcome_summary(&o, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "cancelled, exit 0 in 12 ms");

	/* A long last line is cut, with a mark. */
	o.cancelled = false;
	o.exit_status = 1;
	for (i = 0; i < 300; i++)
		o.output[i] = 'x';
	o.output[300] = '\0';
	o.output_len = 300;
	assert_int_equal(hooks_outcome_summary(&o, buf, sizeof(buf)), 0);
	assert_int_equal(strncmp(buf, "exit 1 in 12 ms: xxx", 20), 0);
	assert_int_equal(strcmp(buf + strlen(buf) - 4, "x..."), 0);
	assert_true(strlen(buf) < 200);

	/* Too small a buffer: cut, still terminated, and said so. */
	assert_int_equal(hooks_outcome_summary(&o, small, sizeof(small)),
			 UV_ENOBUFS);
	assert_string_equal(small, "exit 1 in 1");

	/* A cut never leaves half a UTF-8 character. */
	strcpy(o.output, "\xc3\xa9\xc3\xa9\xc3\xa9");
	o.output_len = strlen(o.output);
	assert_int_equal(hooks_outcome_summary(&o, buf, 22), UV_ENOBUFS);
	assert_string_equal(buf, "exit 1 in 12 ms: \xc3\xa9\xc3\xa9");
	assert_int_equal(hooks_outcome_summary(&o, buf, 21), UV_ENOBUFS);
	assert_string_equal(buf, "exit 1 in 12 ms: \xc3\xa9");

	assert_int_equal(hooks_outcome_summary(NULL, buf, sizeof(buf)),
			 UV_EINVAL);
	assert_int_equal(hooks_outcome_summary(&o, NULL, 1), UV_EINVAL);
	assert_int_equal(hooks_outcome_summary(&o, buf, 0), UV_EINVAL);
	assert_false(hooks_outcome_ok(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T(test_exit_zero_output),
	    T(test_nonzero_exit),
	    T(test_env_visible),
	    T(test_stdin_is_dev_null),
	    T(test_command_not_found),
	    T(test_large_output_keeps_tail),
	    T(test_output_sanitized),
	    T(test_timeout_kills_group),
	    T(test_timeout_escalates_to_sigkill),
	    T(test_leftovers_killed_after_exit),
	    T(test_cancel_running),
	    T(test_cancel_while_reaping),
	    T(test_invalid_arguments),
	    T(test_spawn_failure_cleans_up),
	    cmocka_unit_test(test_summary),
#undef T
	};

	/* As in the agent: a closed pipe is an error code, not a signal. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
