/* data: what the data-plane commands of poolpairctl share: argument
 * checks, the --value/--file value, the call and the answer (421
 * included), and the printing of writes and values (see data.h). */
#include "agent/ctl/data.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/ctl/status.h"

#define DATA_MAX_FILE (4L * 1024 * 1024) /* bytes of a --file JSON text */

/* ---- arguments --------------------------------------------------------- */

static int sip_char(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
	       ch == '+' || ch == '~' || ch == '-';
}

int data_sip_valid(const char *s)
{
	const char *p;
	size_t user = 0;
	size_t host = 0;

	if (s == NULL || strncmp(s, "sip:", 4) != 0 || strlen(s) > DATA_MAX_SIP)
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

int data_check_sip(struct ctl *ctl, const struct ctl_args *a, const char *sip)
{
	if (data_sip_valid(sip))
		return CTL_OK;
	return ctl_usage_error(ctl, a,
			       "bad sip uri '%s' (sip:user@host, at most %d "
			       "characters of A-Z a-z 0-9 . _ + ~ -)",
			       sip, DATA_MAX_SIP);
}

/* A path segment other than the SIP: not empty, valid UTF-8. */
int data_check_segment(struct ctl *ctl, const struct ctl_args *a,
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
char *data_user_path(const char *sip, size_t n, ...)
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

/* Read all of f (at most DATA_MAX_FILE bytes) into *text (malloc()ed,
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

			if (n == (size_t)DATA_MAX_FILE) {
				if (fread(&more, 1, 1, f) == 0)
					break;
				snprintf(errbuf, errlen,
					 "%s is larger than %ld bytes", name,
					 DATA_MAX_FILE);
				free(buf);
				return -1;
			}
			if (next > (size_t)DATA_MAX_FILE + 1)
				next = (size_t)DATA_MAX_FILE + 1;
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
int data_load_value(struct ctl *ctl, const struct ctl_args *a, json_t **value)
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
	if (compact == NULL || clen > (size_t)DATA_MAX_VALUE) {
		json_decref(*value);
		*value = NULL;
		if (compact == NULL)
			return ctl_out_of_memory(ctl);
		ctl_say(ctl->err,
			"poolpairctl: the value is %zu bytes, more than %ld",
			clen, DATA_MAX_VALUE);
		return CTL_FAILED;
	}
	return CTL_OK;
}

/* ---- calls ------------------------------------------------------------- */

/* The writer's API URL a 421 not_writer answer in x names (malloc()ed,
 * owned by the caller), or NULL for any other answer. */
static char *not_writer_api(const struct client_xfer *x)
{
	json_t *answer;
	const char *code, *api;
	char *out = NULL;

	if (x->status != 421 || x->buf == NULL || x->len == 0)
		return NULL;
	answer = json_loadb(x->buf, x->len, 0, NULL);
	code = json_string_value(json_object_get(answer, "error"));
	api = json_string_value(json_object_get(answer, "api"));
	if (code != NULL && strcmp(code, "not_writer") == 0 && api != NULL &&
	    (strncmp(api, "http://", 7) == 0 ||
	     strncmp(api, "https://", 8) == 0))
		out = strdup(api);
	json_decref(answer);
	return out;
}

int data_transfer(struct ctl *ctl, struct client_xfer *x)
{
	char errbuf[512];
	char *asked, *writer;
	int rv;

	if (client_transfer(ctl->client, x, errbuf, sizeof(errbuf)) != 0) {
		ctl_say(ctl->err, "poolpairctl: %s", errbuf);
		return CTL_FAILED;
	}
	writer = not_writer_api(x);
	if (writer == NULL)
		return CTL_OK;
	/* a standby of the pool: ask its writer, once, then the --api agent
	 * again for what follows; only a member, and never from https to
	 * http */
	if (client_redirect_ok(ctl->client, x->url, writer, errbuf,
			       sizeof(errbuf)) != 0) {
		ctl_say(ctl->err, "poolpairctl: %s", errbuf);
		free(writer);
		return CTL_FAILED;
	}
	asked = strdup(ctl->client->base);
	if (asked == NULL || client_set_base(ctl->client, writer) != 0) {
		free(asked);
		free(writer);
		return CTL_OK; /* reported as the 421 it is */
	}
	client_xfer_release(x);
	x->buf = NULL;
	x->len = x->cap = 0;
	x->url = NULL;
	x->status = 0;
	x->sent = x->received = 0;
	rv = client_transfer(ctl->client, x, errbuf, sizeof(errbuf));
	client_set_base(ctl->client, asked);
	free(asked);
	free(writer);
	if (rv != 0) {
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

	if (status == 421 && code != NULL && strcmp(code, "not_writer") == 0) {
		/* followed once already: the writer named is a standby too */
		ctl_say(ctl->err, "poolpairctl: not_writer: %s",
			message != NULL ? message : "not the writer");
	} else if (status == 421) {
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
int data_answer(struct ctl *ctl, const struct client_xfer *x, json_t **resp)
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
int data_call(struct ctl *ctl, const char *method, const char *path,
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
	rv = data_transfer(ctl, &x);
	if (rv == CTL_OK)
		rv = data_answer(ctl, &x, resp);
	client_xfer_release(&x);
	free(text);
	return rv;
}

/* PUT value (owned: released here) to path (owned: freed here). */
int data_put_value(struct ctl *ctl, char *path, json_t *value, json_t **resp)
{
	int rv;

	if (path == NULL) {
		json_decref(value);
		return ctl_out_of_memory(ctl);
	}
	rv = data_call(ctl, "PUT", path, value, resp);
	json_decref(value);
	free(path);
	return rv;
}

/* ---- output ------------------------------------------------------------ */

/* Text of resp's integer member key, or "-". */
const char *data_int_text(json_t *resp, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(resp, key);

	if (!json_is_integer(v))
		return "-";
	snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return buf;
}

/* Print a finished write: with --json the answer, else "SENTENCE (epoch
 * E, seq S)". Releases resp. */
int data_write_done(struct ctl *ctl, json_t *resp, const char *fmt, ...)
{
	char epoch[32], seq[32], trailer[96];
	va_list ap;
	int rv;

	snprintf(trailer, sizeof trailer, " (epoch %s, seq %s)",
		 data_int_text(resp, "epoch", epoch, sizeof(epoch)),
		 data_int_text(resp, "seq", seq, sizeof(seq)));
	va_start(ap, fmt);
	rv = ctl_vwrite_done(ctl, resp, trailer, fmt, ap);
	va_end(ap);
	return rv;
}

/* GET path (owned: freed here) and print its value (see data.h). */
int data_get_value(struct ctl *ctl, char *path)
{
	char epoch[32], seq[32];
	json_t *resp;
	json_t *value;
	const char *copy;
	int rv;

	if (path == NULL)
		return ctl_out_of_memory(ctl);
	rv = data_call(ctl, "GET", path, NULL, &resp);
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
		data_int_text(resp, "epoch", epoch, sizeof(epoch)),
		data_int_text(resp, "seq", seq, sizeof(seq)),
		copy != NULL ? copy : "-");
	json_decref(resp);
	return rv;
}
