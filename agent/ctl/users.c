/* users: the poolpairctl data-plane commands (users, conferences, content)
 * and the transfer they share. */
#include "agent/ctl/users.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/ctl/client.h"
#include "agent/ctl/status.h"

#define USERS_MAX_FILE (4L * 1024 * 1024) /* bytes of a --file JSON text */
#define USERS_ERROR_BODY (64L * 1024)	  /* bytes kept of a failed answer */
#define USERS_BAR_WIDTH 24
#define USERS_BAR_EVERY 0.1 /* seconds between two drawings */

/* ---- transfer ----------------------------------------------------------
 *
 * Requests go through client_transfer() on the client's handle; a content
 * transfer on a terminal draws a progress bar on ctl->err. */

/* The progress bar of one transfer (client_xfer.data). */
struct bar {
	FILE *err;	/* borrowed: where it is drawn */
	double started; /* monotonic seconds */
	double drawn_at;
	int drawn; /* the bar is on the screen */
};

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *users_format_bytes(double n, char *buf, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	size_t u = 0;

	if (n < 1024) {
		snprintf(buf, len, "%.0f B", n < 0 ? 0.0 : n);
		return buf;
	}
	n /= 1024;
	while (n >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		n /= 1024;
		u++;
	}
	snprintf(buf, len, n < 10 ? "%.2f %s" : "%.1f %s", n, units[u]);
	return buf;
}

/* Draw the bar: done of total bytes (total 0: unknown). */
static void bar_draw(struct bar *b, int64_t done, int64_t total, double now)
{
	double secs = now - b->started;
	double rate = secs > 0 ? (double)done / secs : 0;
	char d[32], t[32], r[32];
	char bar[USERS_BAR_WIDTH + 1];
	char line[160];

	users_format_bytes((double)done, d, sizeof(d));
	users_format_bytes(rate, r, sizeof(r));
	if (total > 0) {
		int pct = (int)((double)done * 100.0 / (double)total);
		int fill = (int)((double)done * USERS_BAR_WIDTH /
				 (double)total);
		int i;

		if (pct > 100)
			pct = 100;
		if (fill > USERS_BAR_WIDTH)
			fill = USERS_BAR_WIDTH;
		for (i = 0; i < USERS_BAR_WIDTH; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[USERS_BAR_WIDTH] = '\0';
		users_format_bytes((double)total, t, sizeof(t));
		snprintf(line, sizeof(line), "%3d%% [%s] %s / %s  %s/s", pct,
			 bar, d, t, r);
	} else {
		snprintf(line, sizeof(line), "%s  %s/s", d, r);
	}
	fprintf(b->err, "\r%-72s", line);
	fflush(b->err);
	b->drawn = 1;
	b->drawn_at = now;
}

/* Bytes done and total of the body or the answer, whichever moves. */
static void bar_amount(const struct client_xfer *x, int64_t dltotal,
		       int64_t *done, int64_t *total)
{
	if (x->in != NULL) {
		*done = x->sent;
		*total = x->body_len;
	} else {
		*done = x->received;
		*total = x->status >= 200 && x->status < 300 ? dltotal : 0;
	}
}

/* client_xfer.progress: draw now and then while bytes move; after a hop,
 * finish a drawn bar with its last state and a newline. */
static void bar_progress(struct client_xfer *x, int64_t total, int final)
{
	struct bar *b = x->data;
	double now = now_seconds();
	int64_t done, all;

	if (final) {
		if (!b->drawn)
			return;
		bar_amount(x, total, &done, &all);
		bar_draw(b, done, all, now);
		fputc('\n', b->err);
		b->drawn = 0;
		return;
	}
	if (now - b->drawn_at < USERS_BAR_EVERY)
		return;
	if (x->in == NULL && x->received == 0)
		return; /* nothing of the content yet */
	bar_amount(x, total, &done, &all);
	bar_draw(b, done, all, now);
}

/* Run x on the client, with a progress bar on ctl->err when it is a
 * terminal and bar is given. Returns CTL_OK when an answer arrived
 * (x->status, the body in x->buf or x->out), else CTL_FAILED
 * (reported). */
static int xfer_run(struct ctl *ctl, struct client_xfer *x, struct bar *bar)
{
	char errbuf[512];

	if (bar != NULL && isatty(fileno(ctl->err))) {
		bar->err = ctl->err;
		bar->started = now_seconds();
		x->progress = bar_progress;
		x->data = bar;
	}
	if (client_transfer(ctl->client, x, errbuf, sizeof(errbuf)) != 0) {
		ctl_say(ctl->err, "poolpairctl: %s", errbuf);
		return CTL_FAILED;
	}
	return CTL_OK;
}

/* Report a non-2xx answer (answer borrowed, may be NULL) like ctl_call;
 * a 421 names the owner's API. With --json the answer goes to ctl->out.
 * Returns CTL_FAILED. */
static int answer_failed(struct ctl *ctl, long status, json_t *answer)
{
	const char *code = json_string_value(json_object_get(answer, "error"));
	const char *message =
	    json_string_value(json_object_get(answer, "message"));

	if (status == 421) {
		const char *api =
		    json_string_value(json_object_get(answer, "owner_api"));
		const char *owner =
		    json_string_value(json_object_get(answer, "owner"));

		if (api != NULL && api[0] != '\0' && owner != NULL &&
		    owner[0] != '\0')
			ctl_say(ctl->err,
				"poolpairctl: not the owner: ask %s (pool %s)",
				api, owner);
		else if (api != NULL && api[0] != '\0')
			ctl_say(ctl->err, "poolpairctl: not the owner: ask %s",
				api);
		else
			ctl_say(ctl->err, "poolpairctl: not the owner, and the "
					  "answer names no owner");
	} else if (code != NULL && message != NULL && message[0] != '\0') {
		ctl_say(ctl->err, "poolpairctl: %s: %s", code, message);
	} else if (code != NULL) {
		ctl_say(ctl->err, "poolpairctl: %s: http %ld", code, status);
	} else {
		ctl_say(ctl->err, "poolpairctl: http %ld: %s", status,
			answer != NULL ? "answer without an error code"
				       : "no json error in the answer");
	}
	if (ctl->json)
		ctl_print_json(ctl, answer);
	return CTL_FAILED;
}

/* After xfer_run: on a 2xx parse x->buf into *resp (owned by the caller;
 * NULL for an empty body) and return CTL_OK; otherwise report and return
 * CTL_FAILED with *resp NULL. */
static int xfer_answer(struct ctl *ctl, const struct client_xfer *x,
		       json_t **resp)
{
	json_error_t jerr;
	json_t *answer = NULL;
	int rv;

	*resp = NULL;
	if (x->len > 0)
		answer = json_loadb(x->buf, x->len, 0, &jerr);
	if (x->status >= 200 && x->status < 300) {
		if (x->len > 0 && answer == NULL) {
			ctl_say(ctl->err,
				"poolpairctl: bad answer (http %ld): not "
				"json: %s",
				x->status, jerr.text);
			return CTL_FAILED;
		}
		*resp = answer;
		return CTL_OK;
	}
	rv = answer_failed(ctl, x->status, answer);
	json_decref(answer);
	return rv;
}

/* A JSON call: body (borrowed, any JSON value, may be NULL). As
 * ctl_call(), also for 421 answers and scalar bodies. */
static int call_json(struct ctl *ctl, const char *method, const char *path,
		     json_t *body, json_t **resp)
{
	struct client_xfer x = {.method = method, .path = path};
	char *text = NULL;
	int rv;

	*resp = NULL;
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		if (text == NULL)
			return ctl_out_of_memory(ctl);
		x.body = text;
		x.body_len = (int64_t)strlen(text);
		x.content_type = "application/json";
	}
	rv = xfer_run(ctl, &x, NULL);
	if (rv == CTL_OK)
		rv = xfer_answer(ctl, &x, resp);
	client_xfer_release(&x);
	free(text);
	return rv;
}

/* ---- arguments --------------------------------------------------------- */

static int sip_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
	       ch == '+' || ch == '~' || ch == '-';
}

int users_sip_valid(const char *s)
{
	const char *p;
	size_t user = 0;
	size_t host = 0;

	if (s == NULL || strncmp(s, "sip:", 4) != 0 ||
	    strlen(s) > USERS_MAX_SIP)
		return 0;
	for (p = s + 4; *p != '\0' && *p != '@'; p++, user++)
		if (!sip_char(*p))
			return 0;
	if (*p != '@')
		return 0;
	for (p++; *p != '\0'; p++, host++)
		if (!sip_char(*p))
			return 0;
	return user > 0 && host > 0;
}

int users_kind_valid(const char *kind)
{
	return strcmp(kind, "profile") == 0 || strcmp(kind, "contacts") == 0 ||
	       strcmp(kind, "settings") == 0;
}

static int check_sip(struct ctl *ctl, const struct ctl_args *a,
		     const char *sip)
{
	if (users_sip_valid(sip))
		return CTL_OK;
	return ctl_usage_error(ctl, a,
			       "bad sip uri '%s' (sip:user@host, at most %d "
			       "characters of A-Z a-z 0-9 . _ + ~ -)",
			       sip, USERS_MAX_SIP);
}

/* A path segment other than the SIP: not empty, valid UTF-8. */
static int check_segment(struct ctl *ctl, const struct ctl_args *a,
			 const char *what, const char *s)
{
	json_t *v;

	if (s[0] == '\0')
		return ctl_usage_error(ctl, a, "empty %s", what);
	v = json_string(s);
	if (v == NULL)
		return ctl_usage_error(ctl, a, "%s is not valid utf-8", what);
	json_decref(v);
	return CTL_OK;
}

/* "/v1/users/ESC(sip)" followed by "/ESC(seg)" for each of the n segments
 * (malloc()ed), or NULL when out of memory. */
static char *user_path(const char *sip, size_t n, ...)
{
	char *path = client_escape(sip);
	char *next;
	va_list ap;
	size_t i;

	if (path == NULL)
		return NULL;
	if (asprintf(&next, "/v1/users/%s", path) < 0)
		next = NULL;
	free(path);
	path = next;
	va_start(ap, n);
	for (i = 0; i < n && path != NULL; i++) {
		char *esc = client_escape(va_arg(ap, const char *));

		if (esc == NULL || asprintf(&next, "%s/%s", path, esc) < 0)
			next = NULL;
		free(esc);
		free(path);
		path = next;
	}
	va_end(ap);
	return path;
}

/* Read all of f (at most USERS_MAX_FILE bytes) into *text (malloc()ed,
 * NUL-terminated) and *len. Returns 0, or -1 with errbuf set. */
static int read_all(FILE *f, const char *name, char **text, size_t *len,
		    char *errbuf, size_t errlen)
{
	size_t cap = 4096;
	size_t n = 0;
	char *buf = malloc(cap);

	*text = NULL;
	if (buf == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	for (;;) {
		size_t got;

		if (n + 1 == cap) {
			size_t next = cap * 2;
			char more;
			char *p;

			if (n == (size_t)USERS_MAX_FILE) {
				if (fread(&more, 1, 1, f) == 0)
					break;
				snprintf(errbuf, errlen,
					 "%s is larger than %ld bytes", name,
					 USERS_MAX_FILE);
				free(buf);
				return -1;
			}
			if (next > (size_t)USERS_MAX_FILE + 1)
				next = (size_t)USERS_MAX_FILE + 1;
			p = realloc(buf, next);
			if (p == NULL) {
				snprintf(errbuf, errlen, "out of memory");
				free(buf);
				return -1;
			}
			buf = p;
			cap = next;
		}
		got = fread(buf + n, 1, cap - 1 - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(errbuf, errlen, "cannot read %s: %s", name,
			 strerror(errno));
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	*text = buf;
	*len = n;
	return 0;
}

/* The JSON value of --value (a->opt[0]) or --file (a->opt[1]). Returns
 * CTL_OK and *value (owned by the caller), CTL_USAGE or CTL_FAILED
 * (reported). */
static int load_value(struct ctl *ctl, const struct ctl_args *a,
		      json_t **value)
{
	const char *text_opt = a->opt[0];
	const char *file = a->opt[1];
	const size_t flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES;
	json_error_t jerr;
	char errbuf[512];
	char *text;
	size_t len;
	char *compact;
	size_t clen;

	*value = NULL;
	if ((text_opt == NULL) == (file == NULL))
		return ctl_usage_error(ctl, a,
				       "give the value with either --value or "
				       "--file");
	if (text_opt != NULL) {
		*value = json_loads(text_opt, flags, &jerr);
		if (*value == NULL)
			return ctl_usage_error(ctl, a,
					       "--value is not json: column "
					       "%d: %s",
					       jerr.column, jerr.text);
	} else {
		const char *name = strcmp(file, "-") == 0 ? "stdin" : file;
		FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
		int rv;

		if (file[0] == '\0')
			return ctl_usage_error(ctl, a, "empty --file");
		if (f == NULL) {
			ctl_say(ctl->err, "poolpairctl: cannot open %s: %s",
				file, strerror(errno));
			return CTL_FAILED;
		}
		rv = read_all(f, name, &text, &len, errbuf, sizeof(errbuf));
		if (f != stdin)
			fclose(f);
		if (rv != 0) {
			ctl_say(ctl->err, "poolpairctl: %s", errbuf);
			return CTL_FAILED;
		}
		*value = json_loadb(text, len, flags, &jerr);
		free(text);
		if (*value == NULL) {
			ctl_say(ctl->err, "poolpairctl: %s:%d:%d: %s", name,
				jerr.line, jerr.column, jerr.text);
			return CTL_FAILED;
		}
	}
	compact = json_dumps(*value, JSON_COMPACT | JSON_ENCODE_ANY);
	clen = compact != NULL ? strlen(compact) : 0;
	free(compact);
	if (compact == NULL || clen > (size_t)USERS_MAX_VALUE) {
		json_decref(*value);
		*value = NULL;
		if (compact == NULL)
			return ctl_out_of_memory(ctl);
		ctl_say(ctl->err,
			"poolpairctl: the value is %zu bytes, more than %ld",
			clen, USERS_MAX_VALUE);
		return CTL_FAILED;
	}
	return CTL_OK;
}

/* ---- output ------------------------------------------------------------ */

/* Text of resp's integer member key, or "-". */
static const char *int_text(json_t *resp, const char *key, char *buf,
			    size_t len)
{
	json_t *v = json_object_get(resp, key);

	if (!json_is_integer(v))
		return "-";
	snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return buf;
}

/* Print a finished write: with --json the answer, else "SENTENCE (epoch
 * E, seq S)". Releases resp. */
static int write_done(struct ctl *ctl, json_t *resp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int write_done(struct ctl *ctl, json_t *resp, const char *fmt, ...)
{
	char epoch[32], seq[32];
	va_list ap;
	char *s;

	if (ctl->json) {
		int rv = ctl_print_json(ctl, resp);

		json_decref(resp);
		return rv;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s == NULL) {
		json_decref(resp);
		return ctl_out_of_memory(ctl);
	}
	ctl_say(ctl->out, "%s (epoch %s, seq %s)", s,
		int_text(resp, "epoch", epoch, sizeof(epoch)),
		int_text(resp, "seq", seq, sizeof(seq)));
	free(s);
	json_decref(resp);
	return CTL_OK;
}

/* PUT value (owned: released here) to path (owned: freed here). */
static int put_value(struct ctl *ctl, char *path, json_t *value,
		     json_t **resp)
{
	int rv;

	if (path == NULL) {
		json_decref(value);
		return ctl_out_of_memory(ctl);
	}
	rv = call_json(ctl, "PUT", path, value, resp);
	json_decref(value);
	free(path);
	return rv;
}

/* GET path (owned: freed here) and print its value as users_cmd_get()
 * says. */
static int get_value(struct ctl *ctl, char *path)
{
	char epoch[32], seq[32];
	json_t *resp;
	json_t *value;
	const char *copy;
	int rv;

	if (path == NULL)
		return ctl_out_of_memory(ctl);
	rv = call_json(ctl, "GET", path, NULL, &resp);
	free(path);
	if (rv != CTL_OK)
		return rv;
	if (ctl->json) {
		rv = ctl_print_json(ctl, resp);
		json_decref(resp);
		return rv;
	}
	value = json_object_get(resp, "value");
	if (value == NULL) {
		json_decref(resp);
		return ctl_bad_answer(ctl, "no 'value'");
	}
	rv = ctl_print_json(ctl, value);
	/* the value is out before the trailer: a buffered stdout would
	 * otherwise let the trailer land in the middle of the value where
	 * both go to one place */
	fflush(ctl->out);
	copy = json_string_value(json_object_get(resp, "copy"));
	ctl_say(ctl->err, "epoch %s, seq %s, copy %s",
		int_text(resp, "epoch", epoch, sizeof(epoch)),
		int_text(resp, "seq", seq, sizeof(seq)),
		copy != NULL ? copy : "-");
	json_decref(resp);
	return rv;
}

/* ---- users ------------------------------------------------------------- */

int users_cmd_enable(struct ctl *ctl, const struct ctl_args *a)
{
	const char *sip = a->pos[0];
	const char *pool = a->opt[0];
	json_t *body;
	json_t *resp;
	int rv;

	if (check_sip(ctl, a, sip) != CTL_OK)
		return CTL_USAGE;
	if (pool == NULL)
		return ctl_usage_error(ctl, a, "missing --pool");
	if (check_segment(ctl, a, "--pool", pool) != CTL_OK)
		return CTL_USAGE;
	body = json_pack("{s:s, s:s}", "sip", sip, "pool", pool);
	if (body == NULL)
		return ctl_out_of_memory(ctl);
	rv = call_json(ctl, "POST", "/v1/users", body, &resp);
	json_decref(body);
	if (rv != CTL_OK)
		return rv;
	return write_done(ctl, resp, "enabled %s on %s", sip, pool);
}

int users_cmd_disable(struct ctl *ctl, const struct ctl_args *a)
{
	const char *sip = a->pos[0];
	char *path;
	json_t *resp;
	int rv;

	if (check_sip(ctl, a, sip) != CTL_OK)
		return CTL_USAGE;
	path = user_path(sip, 0);
	if (path == NULL)
		return ctl_out_of_memory(ctl);
	rv = call_json(ctl, "DELETE", path, NULL, &resp);
	free(path);
	if (rv != CTL_OK)
		return rv;
	return write_done(ctl, resp, "disabled %s", sip);
}

int users_cmd_set(struct ctl *ctl, const struct ctl_args *a)
{
	const char *sip = a->pos[0];
	const char *kind = a->pos[1];
	json_t *value;
	json_t *resp;
	int rv;

	if (check_sip(ctl, a, sip) != CTL_OK)
		return CTL_USAGE;
	if (!users_kind_valid(kind))
		return ctl_usage_error(ctl, a,
				       "bad kind '%s' (profile, contacts or "
				       "settings)",
				       kind);
	rv = load_value(ctl, a, &value);
	if (rv != CTL_OK)
		return rv;
	rv = put_value(ctl, user_path(sip, 1, kind), value, &resp);
	if (rv != CTL_OK)
		return rv;
	return write_done(ctl, resp, "stored %s of %s", kind, sip);
}

int users_cmd_get(struct ctl *ctl, const struct ctl_args *a)
{
	const char *sip = a->pos[0];
	const char *kind = a->pos[1];

	if (check_sip(ctl, a, sip) != CTL_OK)
		return CTL_USAGE;
	if (!users_kind_valid(kind))
		return ctl_usage_error(ctl, a,
				       "bad kind '%s' (profile, contacts or "
				       "settings)",
				       kind);
	return get_value(ctl, user_path(sip, 1, kind));
}

int users_cmd_locate(struct ctl *ctl, const struct ctl_args *a)
{
	static const char *const rows[][2] = {
	    {"sip", "sip"},	    {"home pool", "home_pool"},
	    {"enabled", "enabled"}, {"owner", "owner"},
	    {"owner api", "owner_api"}, {"epoch", "epoch"},
	};
	const char *sip = a->pos[0];
	char *path;
	json_t *resp;
	size_t i;
	int rv;

	if (check_sip(ctl, a, sip) != CTL_OK)
		return CTL_USAGE;
	path = user_path(sip, 1, "location");
	if (path == NULL)
		return ctl_out_of_memory(ctl);
	rv = call_json(ctl, "GET", path, NULL, &resp);
	free(path);
	if (rv != CTL_OK)
		return rv;
	if (ctl->json) {
		rv = ctl_print_json(ctl, resp);
		json_decref(resp);
		return rv;
	}
	if (!json_is_object(resp)) {
		json_decref(resp);
		return ctl_bad_answer(ctl, "not an object");
	}
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		json_t *v = json_object_get(resp, rows[i][1]);
		char num[32];
		const char *text = "-";

		if (json_is_string(v) && json_string_length(v) > 0)
			text = json_string_value(v);
		else if (json_is_integer(v))
			text = int_text(resp, rows[i][1], num, sizeof(num));
		else if (json_is_boolean(v))
			text = json_is_true(v) ? "yes" : "no";
		ctl_say(ctl->out, "%-10s %s", rows[i][0], text);
	}
	json_decref(resp);
	return CTL_OK;
}

/* ---- conferences ------------------------------------------------------- */

int users_cmd_conference_schedule(struct ctl *ctl, const struct ctl_args *a)
{
	const char *sip = a->pos[0];
	const char *id = a->pos[1];
	json_t *value;
	json_t *resp;
	int rv;

	if (check_sip(ctl, a, sip) != CTL_OK ||
	    check_segment(ctl, a, "conference id", id) != CTL_OK)
		return CTL_USAGE;
	rv = load_value(ctl, a, &value);
	if (rv != CTL_OK)
		return rv;
	rv = put_value(ctl, user_path(sip, 2, "conferences", id), value,
		       &resp);
	if (rv != CTL_OK)
		return rv;
	return write_done(ctl, resp, "scheduled conference %s of %s", id, sip);
}

int users_cmd_conference_get(struct ctl *ctl, const struct ctl_args *a)
{
	const char *sip = a->pos[0];
	const char *id = a->pos[1];

	if (check_sip(ctl, a, sip) != CTL_OK ||
	    check_segment(ctl, a, "conference id", id) != CTL_OK)
		return CTL_USAGE;
	return get_value(ctl, user_path(sip, 2, "conferences", id));
}

/* ---- content ----------------------------------------------------------- */

static int content_args(struct ctl *ctl, const struct ctl_args *a)
{
	if (check_sip(ctl, a, a->pos[0]) != CTL_OK ||
	    check_segment(ctl, a, "conference id", a->pos[1]) != CTL_OK ||
	    check_segment(ctl, a, "content name", a->pos[2]) != CTL_OK)
		return CTL_USAGE;
	if (a->pos[3][0] == '\0')
		return ctl_usage_error(ctl, a, "empty file name");
	return CTL_OK;
}

int users_cmd_content_upload(struct ctl *ctl, const struct ctl_args *a)
{
	const char *sip = a->pos[0];
	const char *conf = a->pos[1];
	const char *name = a->pos[2];
	const char *file = a->pos[3];
	struct client_xfer x = {.method = "PUT"};
	struct bar bar = {0};
	struct stat st;
	char size[32];
	char *path;
	json_t *resp;
	int rv;

	if (content_args(ctl, a) != CTL_OK)
		return CTL_USAGE;
	if (strcmp(file, "-") == 0)
		return ctl_usage_error(ctl, a,
				       "content is read from a file, not "
				       "stdin");
	x.in = fopen(file, "rb");
	if (x.in == NULL) {
		ctl_say(ctl->err, "poolpairctl: cannot open %s: %s", file,
			strerror(errno));
		return CTL_FAILED;
	}
	if (fstat(fileno(x.in), &st) != 0 || !S_ISREG(st.st_mode)) {
		ctl_say(ctl->err, "poolpairctl: %s is not a regular file",
			file);
		fclose(x.in);
		return CTL_FAILED;
	}
	path = user_path(sip, 4, "conferences", conf, "content", name);
	if (path == NULL) {
		fclose(x.in);
		return ctl_out_of_memory(ctl);
	}
	x.path = path;
	x.in_name = file;
	x.body_len = (int64_t)st.st_size;
	x.content_type = "application/octet-stream";
	x.stream = 1;
	x.max = (size_t)USERS_ERROR_BODY;
	rv = xfer_run(ctl, &x, &bar);
	free(path);
	fclose(x.in);
	if (rv == CTL_OK)
		rv = xfer_answer(ctl, &x, &resp);
	client_xfer_release(&x);
	if (rv != CTL_OK)
		return rv;
	users_format_bytes((double)st.st_size, size, sizeof(size));
	return write_done(ctl, resp, "uploaded %s (%s) to conference %s of %s",
			  name, size, conf, sip);
}

/* Open a temporary file beside file for a download. Returns the stream
 * and *tmp (malloc()ed name), or NULL (reported). */
static FILE *download_open(struct ctl *ctl, const char *file, char **tmp)
{
	mode_t mask;
	FILE *f;
	int fd;

	if (asprintf(tmp, "%s.partXXXXXX", file) < 0) {
		*tmp = NULL;
		ctl_out_of_memory(ctl);
		return NULL;
	}
	fd = mkstemp(*tmp);
	if (fd < 0) {
		ctl_say(ctl->err, "poolpairctl: cannot write %s: %s", file,
			strerror(errno));
		free(*tmp);
		*tmp = NULL;
		return NULL;
	}
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0 || (f = fdopen(fd, "wb")) == NULL) {
		ctl_say(ctl->err, "poolpairctl: cannot open %s: %s", *tmp,
			strerror(errno));
		close(fd);
		unlink(*tmp);
		free(*tmp);
		*tmp = NULL;
		return NULL;
	}
	return f;
}

/* Flush, sync and close the downloaded f, then move tmp to file. Returns
 * CTL_OK or CTL_FAILED (reported; tmp removed). */
static int download_finish(struct ctl *ctl, FILE *f, const char *tmp,
			   const char *file)
{
	int failed = fflush(f) != 0 || fsync(fileno(f)) != 0;
	int saved = errno;

	if (fclose(f) != 0 && !failed) {
		failed = 1;
		saved = errno;
	}
	if (failed) {
		ctl_say(ctl->err, "poolpairctl: cannot write %s: %s", tmp,
			strerror(saved));
		unlink(tmp);
		return CTL_FAILED;
	}
	if (rename(tmp, file) != 0) {
		ctl_say(ctl->err, "poolpairctl: cannot rename %s to %s: %s",
			tmp, file, strerror(errno));
		unlink(tmp);
		return CTL_FAILED;
	}
	return CTL_OK;
}

int users_cmd_content_download(struct ctl *ctl, const struct ctl_args *a)
{
	const char *sip = a->pos[0];
	const char *conf = a->pos[1];
	const char *name = a->pos[2];
	const char *file = a->pos[3];
	int to_stdout = strcmp(file, "-") == 0;
	struct client_xfer x = {.method = "GET"};
	struct bar bar = {0};
	struct stat st;
	char *tmp = NULL;
	char size[32];
	char *path;
	json_t *resp = NULL;
	int rv;

	if (content_args(ctl, a) != CTL_OK)
		return CTL_USAGE;
	if (!to_stdout && stat(file, &st) == 0 && S_ISDIR(st.st_mode)) {
		ctl_say(ctl->err, "poolpairctl: %s is a directory", file);
		return CTL_FAILED;
	}
	path = user_path(sip, 4, "conferences", conf, "content", name);
	if (path == NULL)
		return ctl_out_of_memory(ctl);
	x.out = to_stdout ? ctl->out : download_open(ctl, file, &tmp);
	if (x.out == NULL) {
		free(path);
		return CTL_FAILED;
	}
	x.path = path;
	x.accept = "application/octet-stream, application/json";
	x.out_name = to_stdout ? "stdout" : tmp;
	x.stream = 1;
	x.max = (size_t)USERS_ERROR_BODY;
	rv = xfer_run(ctl, &x, &bar);
	free(path);
	if (rv == CTL_OK)
		rv = xfer_answer(ctl, &x, &resp);
	client_xfer_release(&x);
	json_decref(resp); /* a 2xx body went to the file */
	if (to_stdout) {
		if (rv == CTL_OK && fflush(ctl->out) != 0) {
			ctl_say(ctl->err, "poolpairctl: cannot write stdout: %s",
				strerror(errno));
			rv = CTL_FAILED;
		}
		return rv;
	}
	if (rv != CTL_OK) {
		fclose(x.out);
		unlink(tmp);
		free(tmp);
		return rv;
	}
	rv = download_finish(ctl, x.out, tmp, file);
	free(tmp);
	if (rv != CTL_OK)
		return rv;
	if (ctl->json) {
		json_t *done = json_pack("{s:s, s:s, s:s, s:s, s:I}", "sip", sip,
					 "conference", conf, "name", name,
					 "file", file, "bytes",
					 (json_int_t)x.received);

		/* NULL also when the file name is not utf-8: say it in text */
		if (done != NULL) {
			rv = ctl_print_json(ctl, done);
			json_decref(done);
			return rv;
		}
	}
	users_format_bytes((double)x.received, size, sizeof(size));
	ctl_say(ctl->out, "downloaded %s (%s) of conference %s of %s to %s",
		name, size, conf, sip, file);
	return CTL_OK;
}
