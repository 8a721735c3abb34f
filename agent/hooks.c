/* hooks: run one operator hook command asynchronously (see hooks.h). */
#include "agent/hooks.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "agent/log.h"

extern char **environ;

#define HOOKS_READ_BUF 4096
#define HOOKS_SUMMARY_LINE_MAX 160 /* bytes of output quoted in a summary */

enum hook_state {
	HOOK_RUNNING, /* the shell runs; output read; timeout armed */
	HOOK_KILLING, /* the group was signalled (timeout or cancel); waiting
			 for the shell to exit; SIGKILL timer armed unless
			 SIGKILL was sent already */
	HOOK_REAPING, /* the shell exited; reading the output to its end for
			 at most HOOKS_DRAIN_MS */
	HOOK_DONE,    /* callback fired; handles closing, then freed */
	HOOK_NR_STATES
};

static const char *const hooks__state_names[HOOK_NR_STATES] = {
    [HOOK_RUNNING] = "running",
    [HOOK_KILLING] = "killing",
    [HOOK_REAPING] = "reaping",
    [HOOK_DONE] = "done",
};

struct hook {
	enum hook_state state;
	unsigned pending; /* close callbacks still to come */
	hooks_cb cb;	  /* NULL once called (or for a hook never started) */
	void *arg;	  /* borrowed */

	uv_process_t process;
	uv_pipe_t pipe; /* read end of the child's stdout+stderr */
	uv_timer_t timer;
	int pid;  /* the shell, also its process group id; 0 before
		     spawn */
	bool eof; /* the pipe reached its end (or failed) */
	bool sigkill_sent;
	uint64_t start_ns;

	struct hook_outcome outcome; /* filled in as facts arrive */

	char ring[HOOKS_OUTPUT_TAIL]; /* last output bytes, circular */
	uint64_t out_total;	      /* bytes of output read in all */
	char rbuf[HOOKS_READ_BUF];
};

/* ---- state machine ---------------------------------------------------- */

#define HOOK_BIT(s) (1u << (s))

static void hooks__set_state(struct hook *h, enum hook_state next)
{
	static const unsigned allowed[HOOK_NR_STATES] = {
	    [HOOK_RUNNING] = HOOK_BIT(HOOK_KILLING) | HOOK_BIT(HOOK_REAPING),
	    [HOOK_KILLING] = HOOK_BIT(HOOK_REAPING),
	    [HOOK_REAPING] = HOOK_BIT(HOOK_DONE),
	    [HOOK_DONE] = 0,
	};

	assert(h->state < HOOK_NR_STATES);
	if (!(allowed[h->state] & HOOK_BIT(next)))
		LOG_ERROR("hooks", "%s: bad transition %s -> %s",
			  h->outcome.name, hooks__state_names[h->state],
			  hooks__state_names[next]);
	assert(allowed[h->state] & HOOK_BIT(next));
	LOG_DEBUG("hooks", "%s pid %d: %s -> %s", h->outcome.name, h->pid,
		  hooks__state_names[h->state], hooks__state_names[next]);
	h->state = next;
}

/* Signal the hook's whole process group. */
static void hooks__kill_group(struct hook *h, int sig)
{
	if (h->pid <= 1)
		return; /* never kill(0) or kill(-1) */
	if (kill(-h->pid, sig) != 0 && errno != ESRCH)
		LOG_WARN("hooks", "%s: cannot signal process group %d: %s",
			 h->outcome.name, h->pid, strerror(errno));
}

static void hooks__on_close(uv_handle_t *handle)
{
	struct hook *h = handle->data;

	assert(h->pending > 0);
	h->pending--;
	if (h->pending == 0 && h->state == HOOK_DONE)
		free(h);
}

/* Close the timer and the pipe, and the process handle too when
 * with_process (it exists only once uv_spawn() was called). */
static void hooks__close_handles(struct hook *h, bool with_process)
{
	h->pending += 2;
	uv_close((uv_handle_t *)&h->timer, hooks__on_close);
	uv_close((uv_handle_t *)&h->pipe, hooks__on_close);
	if (with_process) {
		h->pending++;
		uv_close((uv_handle_t *)&h->process, hooks__on_close);
	}
}

/* ---- output ----------------------------------------------------------- */

static void hooks__ring_append(struct hook *h, const char *p, size_t n)
{
	size_t pos;
	size_t chunk;

	if (n >= HOOKS_OUTPUT_TAIL) {
		/* Only the last bytes matter; keep the ring aligned with
		 * out_total so that the oldest byte is at out_total % size. */
		h->out_total += n - HOOKS_OUTPUT_TAIL;
		p += n - HOOKS_OUTPUT_TAIL;
		n = HOOKS_OUTPUT_TAIL;
	}
	while (n > 0) {
		pos = (size_t)(h->out_total % HOOKS_OUTPUT_TAIL);
		chunk = HOOKS_OUTPUT_TAIL - pos;
		if (chunk > n)
			chunk = n;
		memcpy(h->ring + pos, p, chunk);
		h->out_total += chunk;
		p += chunk;
		n -= chunk;
	}
}

/* Length of the valid UTF-8 sequence at p (n bytes available), or 0. */
static size_t hooks__utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned char lo = 0x80;
	unsigned char hi = 0xBF;
	size_t i;

	if (p[0] >= 0xC2 && p[0] <= 0xDF) {
		len = 2;
	} else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
		len = 3;
		if (p[0] == 0xE0)
			lo = 0xA0; /* no overlong forms */
		else if (p[0] == 0xED)
			hi = 0x9F; /* no surrogates */
	} else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
		len = 4;
		if (p[0] == 0xF0)
			lo = 0x90;
		else if (p[0] == 0xF4)
			hi = 0x8F; /* nothing above U+10FFFF */
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return len;
}

/* Copy n bytes of in to out (room for n + 1), sanitized as hooks.h says.
 * Returns the length written, NUL excluded. */
static size_t hooks__sanitize(const char *in, size_t n, char *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0;
	size_t o = 0;
	size_t len;

	while (i < n) {
		if (p[i] < 0x80) {
			if (p[i] == '\n' || p[i] == '\t')
				out[o++] = (char)p[i];
			else if (p[i] < 0x20 || p[i] == 0x7F)
				out[o++] = ' ';
			else
				out[o++] = (char)p[i];
			i++;
			continue;
		}
		len = hooks__utf8_len(p + i, n - i);
		if (len == 0) {
			out[o++] = '?';
			i++;
		} else if (len == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0) {
			out[o++] = ' '; /* a C1 control character */
			i += 2;
		} else {
			memcpy(out + o, p + i, len);
			o += len;
			i += len;
		}
	}
	out[o] = '\0';
	return o;
}

/* Put the sanitized output tail into h->outcome. */
static void hooks__fill_output(struct hook *h)
{
	char raw[HOOKS_OUTPUT_TAIL];
	size_t n;
	size_t pos;

	if (h->out_total <= HOOKS_OUTPUT_TAIL) {
		n = (size_t)h->out_total;
		memcpy(raw, h->ring, n);
	} else {
		pos = (size_t)(h->out_total % HOOKS_OUTPUT_TAIL);
		memcpy(raw, h->ring + pos, HOOKS_OUTPUT_TAIL - pos);
		memcpy(raw + HOOKS_OUTPUT_TAIL - pos, h->ring, pos);
		n = HOOKS_OUTPUT_TAIL;
	}
	h->outcome.output_truncated = h->out_total > HOOKS_OUTPUT_TAIL;
	h->outcome.output_len = hooks__sanitize(raw, n, h->outcome.output);
}

/* ---- completion ------------------------------------------------------- */

/* The single completion point: from HOOK_REAPING only. */
static void hooks__finish(struct hook *h)
{
	hooks_cb cb = h->cb;
	char summary[256];

	hooks__set_state(h, HOOK_DONE);
	h->cb = NULL;
	/* The shell is gone; so must be whatever it left behind. */
	hooks__kill_group(h, SIGKILL);
	uv_timer_stop(&h->timer);
	uv_read_stop((uv_stream_t *)&h->pipe);
	hooks__fill_output(h);
	hooks__close_handles(h, true);

	hooks_outcome_summary(&h->outcome, summary, sizeof(summary));
	if (hooks_outcome_ok(&h->outcome))
		LOG_INFO("hooks", "%s: %s", h->outcome.name, summary);
	else
		LOG_WARN("hooks", "%s: %s", h->outcome.name, summary);
	assert(cb != NULL);
	cb(h->arg, &h->outcome);
}

static void hooks__on_timer(uv_timer_t *timer);

static void hooks__on_exit(uv_process_t *process, int64_t exit_status,
			   int term_signal)
{
	struct hook *h = process->data;

	assert(h->state == HOOK_RUNNING || h->state == HOOK_KILLING);
	h->outcome.duration_ms = (uv_hrtime() - h->start_ns) / 1000000u;
	if (term_signal != 0) {
		h->outcome.exit_status = -1;
		h->outcome.term_signal = term_signal;
	} else {
		h->outcome.exit_status = (int)exit_status;
		h->outcome.term_signal = 0;
	}
	hooks__set_state(h, HOOK_REAPING);
	if (h->eof) {
		hooks__finish(h);
		return;
	}
	uv_timer_stop(&h->timer);
	uv_timer_start(&h->timer, hooks__on_timer, HOOKS_DRAIN_MS, 0);
}

static void hooks__on_timer(uv_timer_t *timer)
{
	struct hook *h = timer->data;

	switch (h->state) {
	case HOOK_RUNNING:
		LOG_WARN("hooks", "%s: still running after %u ms, terminating",
			 h->outcome.name, h->outcome.timeout_ms);
		h->outcome.timed_out = true;
		hooks__set_state(h, HOOK_KILLING);
		hooks__kill_group(h, SIGTERM);
		uv_timer_start(timer, hooks__on_timer, HOOKS_KILL_GRACE_MS, 0);
		break;
	case HOOK_KILLING:
		LOG_WARN("hooks", "%s: still running %u ms after SIGTERM",
			 h->outcome.name, (unsigned)HOOKS_KILL_GRACE_MS);
		h->sigkill_sent = true;
		hooks__kill_group(h, SIGKILL);
		break;
	case HOOK_REAPING:
		/* Drain time is over (or a cancel asked to end now). */
		hooks__finish(h);
		break;
	case HOOK_DONE:
	case HOOK_NR_STATES:
		assert(!"timer fired after completion");
		break;
	}
}

static void hooks__on_alloc(uv_handle_t *handle, size_t suggested,
			    uv_buf_t *buf)
{
	struct hook *h = handle->data;

	(void)suggested;
	buf->base = h->rbuf;
	buf->len = sizeof(h->rbuf);
}

static void hooks__on_read(uv_stream_t *stream, ssize_t nread,
			   const uv_buf_t *buf)
{
	struct hook *h = stream->data;

	if (nread > 0) {
		hooks__ring_append(h, buf->base, (size_t)nread);
		return;
	}
	if (nread == 0)
		return; /* EAGAIN */
	if (nread != UV_EOF)
		LOG_DEBUG("hooks", "%s: reading output: %s", h->outcome.name,
			  uv_strerror((int)nread));
	h->eof = true;
	uv_read_stop(stream);
	if (h->state == HOOK_REAPING)
		hooks__finish(h);
}

/* ---- starting --------------------------------------------------------- */

static bool hooks__valid_name(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++) {
		if (i >= HOOKS_NAME_MAX - 1)
			return false;
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return false;
	}
	return i > 0;
}

static bool hooks__valid_env_name(const char *name)
{
	size_t plen = strlen(HOOKS_ENV_PREFIX);
	size_t i;

	if (strncmp(name, HOOKS_ENV_PREFIX, plen) != 0)
		return false;
	for (i = plen; name[i] != '\0'; i++) {
		if (i >= HOOKS_ENV_NAME_MAX)
			return false;
		if (!((name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '_'))
			return false;
	}
	return i > plen;
}

static int hooks__check_env(const struct hook_env *env, size_t n_env)
{
	size_t i;
	size_t j;

	if (n_env > HOOKS_ENV_MAX || (n_env > 0 && env == NULL))
		return UV_EINVAL;
	for (i = 0; i < n_env; i++) {
		if (env[i].name == NULL || env[i].value == NULL)
			return UV_EINVAL;
		if (!hooks__valid_env_name(env[i].name))
			return UV_EINVAL;
		if (strcmp(env[i].name, HOOKS_ENV_PREFIX "HOOK") == 0)
			return UV_EINVAL;
		if (strnlen(env[i].value, HOOKS_ENV_VALUE_MAX + 1) >
		    HOOKS_ENV_VALUE_MAX)
			return UV_EINVAL;
		for (j = 0; j < i; j++)
			if (strcmp(env[i].name, env[j].name) == 0)
				return UV_EINVAL;
	}
	return 0;
}

/* Build the child's environment: the inherited one without POOLPAIR_*,
 * then POOLPAIR_HOOK and the caller's variables. On success *vec is a
 * NULL-terminated array (owned by the caller, free() it and *strings);
 * inherited entries point into environ. */
static int hooks__build_env(const char *name, const struct hook_env *env,
			    size_t n_env, char ***vec, char **strings)
{
	size_t n_inherited = 0;
	size_t size;
	size_t i;
	size_t k = 0;
	char **v;
	char *s;
	char *p;

	for (i = 0; environ != NULL && environ[i] != NULL; i++)
		n_inherited++;
	size = strlen(HOOKS_ENV_PREFIX "HOOK=") + strlen(name) + 1;
	for (i = 0; i < n_env; i++)
		size += strlen(env[i].name) + 1 + strlen(env[i].value) + 1;

	v = calloc(n_inherited + n_env + 2, sizeof(*v));
	s = malloc(size);
	if (v == NULL || s == NULL) {
		free(v);
		free(s);
		return UV_ENOMEM;
	}
	for (i = 0; i < n_inherited; i++)
		if (strncmp(environ[i], HOOKS_ENV_PREFIX,
			    strlen(HOOKS_ENV_PREFIX)) != 0)
			v[k++] = environ[i];
	p = s;
	v[k++] = p;
	p += sprintf(p, "%sHOOK=%s", HOOKS_ENV_PREFIX, name) + 1;
	for (i = 0; i < n_env; i++) {
		v[k++] = p;
		p += sprintf(p, "%s=%s", env[i].name, env[i].value) + 1;
	}
	assert((size_t)(p - s) == size);
	v[k] = NULL;
	*vec = v;
	*strings = s;
	return 0;
}

int hooks_run(uv_loop_t *loop, const char *name, const char *command,
	      const struct hook_env *env, size_t n_env, unsigned timeout_ms,
	      hooks_cb cb, void *arg, struct hook **out)
{
	struct hook *h;
	uv_process_options_t opts;
	uv_stdio_container_t stdio[3];
	char *args[4];
	char **envv = NULL;
	char *env_strings = NULL;
	uv_file fds[2];
	size_t command_len;
	int rv;

	if (loop == NULL || name == NULL || command == NULL || cb == NULL ||
	    timeout_ms == 0 || !hooks__valid_name(name))
		return UV_EINVAL;
	command_len = strnlen(command, HOOKS_COMMAND_MAX + 1);
	if (command_len == 0 || command_len > HOOKS_COMMAND_MAX)
		return UV_EINVAL;
	rv = hooks__check_env(env, n_env);
	if (rv != 0)
		return rv;

	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return UV_ENOMEM;
	/* Copy what the command line and the outcome need. */
	memcpy(h->outcome.name, name, strlen(name) + 1);
	h->outcome.timeout_ms = timeout_ms;
	h->outcome.exit_status = -1;
	h->cb = cb;
	h->arg = arg;

	rv = hooks__build_env(name, env, n_env, &envv, &env_strings);
	if (rv != 0)
		goto err_after_alloc;
	rv = uv_pipe(fds, UV_NONBLOCK_PIPE, 0);
	if (rv != 0)
		goto err_after_env;

	/* From here on the handles exist and are released by closing. */
	uv_timer_init(loop, &h->timer);
	h->timer.data = h;
	uv_pipe_init(loop, &h->pipe, 0);
	h->pipe.data = h;
	rv = uv_pipe_open(&h->pipe, fds[0]);
	if (rv != 0) {
		close(fds[0]);
		close(fds[1]);
		free(envv);
		free(env_strings);
		goto err_after_handles;
	}

	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_IGNORE; /* /dev/null */
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = fds[1];
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = fds[1];
	args[0] = "/bin/sh";
	args[1] = "-c";
	args[2] = (char *)command; /* uv_spawn does not write to it */
	args[3] = NULL;
	memset(&opts, 0, sizeof(opts));
	opts.exit_cb = hooks__on_exit;
	opts.file = args[0];
	opts.args = args;
	opts.env = envv;
	opts.flags = UV_PROCESS_DETACHED; /* setsid: own process group */
	opts.stdio_count = 3;
	opts.stdio = stdio;

	rv = uv_spawn(loop, &h->process, &opts);
	close(fds[1]); /* the child holds its own copies */
	free(envv);
	free(env_strings);
	h->process.data = h;
	if (rv != 0)
		goto err_after_handles;

	h->pid = h->process.pid;
	h->start_ns = uv_hrtime();
	rv = uv_read_start((uv_stream_t *)&h->pipe, hooks__on_alloc,
			   hooks__on_read);
	if (rv != 0) {
		/* The command still runs; its outcome has no output. */
		LOG_WARN("hooks", "%s: cannot read output: %s", name,
			 uv_strerror(rv));
		h->eof = true;
	}
	/* Count the timeout from now, not from a stale loop time. */
	uv_update_time(loop);
	uv_timer_start(&h->timer, hooks__on_timer, timeout_ms, 0);
	h->state = HOOK_RUNNING;
	LOG_INFO("hooks", "%s: started, pid %d, timeout %u ms", name, h->pid,
		 timeout_ms);
	if (out != NULL)
		*out = h;
	return 0;

err_after_handles:
	LOG_WARN("hooks", "%s: cannot start: %s", name, uv_strerror(rv));
	h->cb = NULL;
	h->state = HOOK_DONE; /* never started: no transition to log */
	hooks__close_handles(h, h->process.type == UV_PROCESS);
	return rv;

err_after_env:
	free(envv);
	free(env_strings);
err_after_alloc:
	free(h);
	return rv;
}

void hooks_cancel(struct hook *h)
{
	if (h == NULL || h->cb == NULL)
		return;
	h->outcome.cancelled = true;
	switch (h->state) {
	case HOOK_RUNNING:
	case HOOK_KILLING:
		LOG_INFO("hooks", "%s: cancelled, killing pid %d",
			 h->outcome.name, h->pid);
		uv_timer_stop(&h->timer);
		if (h->state == HOOK_RUNNING)
			hooks__set_state(h, HOOK_KILLING);
		if (!h->sigkill_sent) {
			h->sigkill_sent = true;
			hooks__kill_group(h, SIGKILL);
		}
		break;
	case HOOK_REAPING:
		/* End on the next loop iteration, not inside this call. */
		uv_timer_stop(&h->timer);
		uv_timer_start(&h->timer, hooks__on_timer, 0, 0);
		break;
	case HOOK_DONE:
	case HOOK_NR_STATES:
		break;
	}
}

/* ---- outcome ---------------------------------------------------------- */

bool hooks_outcome_ok(const struct hook_outcome *o)
{
	return o != NULL && o->term_signal == 0 && o->exit_status == 0 &&
	       !o->timed_out && !o->cancelled;
}

/* The last non-empty line of the output: start and length. */
static void hooks__last_line(const char *s, size_t n, const char **line,
			     size_t *len)
{
	size_t end = n;
	size_t start;

	while (end > 0 &&
	       (s[end - 1] == '\n' || s[end - 1] == ' ' || s[end - 1] == '\t'))
		end--;
	start = end;
	while (start > 0 && s[start - 1] != '\n')
		start--;
	while (start < end && (s[start] == ' ' || s[start] == '\t'))
		start++;
	*line = s + start;
	*len = end - start;
}

/* Longest prefix of s, at most max bytes, that does not cut a UTF-8
 * sequence. */
static size_t hooks__utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	return max;
}

/* buf holds n bytes of valid UTF-8 cut anywhere: end it (NUL) before a
 * last sequence that lost some of its bytes. */
static void hooks__trim_partial_utf8(char *buf, size_t n)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t start = n;
	size_t need;

	while (start > 0 && n - start < 4 && (p[start - 1] & 0xC0) == 0x80)
		start--;
	if (start > 0 && p[start - 1] >= 0xC0) {
		start--;
		need = p[start] >= 0xF0 ? 4 : p[start] >= 0xE0 ? 3 : 2;
		if (n - start < need)
			n = start;
	}
	buf[n] = '\0';
}

int hooks_outcome_summary(const struct hook_outcome *o, char *buf, size_t len)
{
	char how[64];
	char when[64];
	const char *line = "";
	size_t line_len = 0;
	size_t cut;
	size_t i;
	int n;

	if (o == NULL || buf == NULL || len == 0)
		return UV_EINVAL;
	if (o->term_signal != 0)
		snprintf(how, sizeof(how), "%skilled by signal %d",
			 o->cancelled ? "cancelled, " : "", o->term_signal);
	else
		snprintf(how, sizeof(how), "%sexit %d",
			 o->cancelled ? "cancelled, " : "", o->exit_status);
	if (o->timed_out)
		snprintf(when, sizeof(when), "after timeout %u ms",
			 o->timeout_ms);
	else
		snprintf(when, sizeof(when), "in %" PRIu64 " ms",
			 o->duration_ms);
	if (!hooks_outcome_ok(o))
		hooks__last_line(o->output,
				 strnlen(o->output, HOOKS_OUTPUT_TAIL), &line,
				 &line_len);
	cut = hooks__utf8_cut(line, line_len, HOOKS_SUMMARY_LINE_MAX);

	if (cut > 0)
		n = snprintf(buf, len, "%s %s: %.*s%s", how, when, (int)cut,
			     line, cut < line_len ? "..." : "");
	else
		n = snprintf(buf, len, "%s %s", how, when);
	/* One line: the output part may hold tabs. */
	for (i = 0; buf[i] != '\0'; i++)
		if ((unsigned char)buf[i] < 0x20)
			buf[i] = ' ';
	if (n < 0)
		return UV_EINVAL;
	if ((size_t)n >= len) {
		hooks__trim_partial_utf8(buf, len - 1);
		return UV_ENOBUFS;
	}
	return 0;
}
