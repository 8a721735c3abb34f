/* ctl: the helpers every poolpairctl command uses (see ctl.h). */
#include "agent/ctl/ctl.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void ctl_say(FILE *f, const char *fmt, ...)
{
	va_list ap;
	char *s;
	const char *p;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (s == NULL) {
		fputs("poolpairctl: out of memory\n", f);
		return;
	}
	for (p = s; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		fputc(ch < 0x20 || ch == 0x7f ? '?' : ch, f);
	}
	fputc('\n', f);
	free(s);
}

int ctl_usage_error(struct ctl *ctl, const struct ctl_args *a, const char *fmt,
		    ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	ctl_say(ctl->err, "poolpairctl: %s", s != NULL ? s : "bad usage");
	free(s);
	if (a != NULL && a->cmd != NULL)
		ctl_say(ctl->err, "usage: poolpairctl %s", a->cmd->usage);
	return CTL_USAGE;
}

int ctl_print_json(struct ctl *ctl, json_t *v)
{
	if (v == NULL)
		return CTL_OK;
	if (json_dumpf(v, ctl->out, JSON_INDENT(2) | JSON_ENCODE_ANY) != 0)
		return CTL_FAILED;
	fputc('\n', ctl->out);
	return ferror(ctl->out) ? CTL_FAILED : CTL_OK;
}

int ctl_call(struct ctl *ctl, const char *method, const char *path,
	     json_t *body, json_t **resp)
{
	char errbuf[512];
	long status = 0;
	json_t *answer = NULL;
	const char *code;
	const char *message;
	int rv;

	*resp = NULL;
	rv = client_request(ctl->client, method, path, body, &status, &answer,
			    errbuf, sizeof(errbuf));
	if (rv != 0) {
		ctl_say(ctl->err, "poolpairctl: %s",
			errbuf[0] ? errbuf : client_strerror(rv));
		return CTL_FAILED;
	}
	if (status >= 200 && status < 300) {
		*resp = answer;
		return CTL_OK;
	}
	code = json_string_value(json_object_get(answer, "error"));
	message = json_string_value(json_object_get(answer, "message"));
	if (code != NULL && message != NULL && message[0] != '\0')
		ctl_say(ctl->err, "poolpairctl: %s: %s", code, message);
	else if (code != NULL)
		ctl_say(ctl->err, "poolpairctl: %s: http %ld", code, status);
	else
		ctl_say(ctl->err, "poolpairctl: http %ld: %s", status,
			answer != NULL ? "answer without an error code"
				       : "empty answer");
	if (ctl->json)
		ctl_print_json(ctl, answer);
	json_decref(answer);
	return CTL_FAILED;
}

/* "PREFIX/ESCAPED(seg)" (malloc()ed) or NULL when out of memory. */
char *ctl_path_join(const char *prefix, const char *seg)
{
	char *esc = client_escape(seg);
	char *path;

	if (esc == NULL)
		return NULL;
	if (asprintf(&path, "%s/%s", prefix, esc) < 0)
		path = NULL;
	free(esc);
	return path;
}

int ctl_out_of_memory(struct ctl *ctl)
{
	ctl_say(ctl->err, "poolpairctl: out of memory");
	return CTL_FAILED;
}

int ctl_bad_answer(struct ctl *ctl, const char *what)
{
	ctl_say(ctl->err, "poolpairctl: bad answer: %s", what);
	return CTL_FAILED;
}

/* Decimal without sign, <= max. Returns 0 and *out, or -1. */
int ctl_parse_uint(const char *s, unsigned long long max,
		   unsigned long long *out)
{
	unsigned long long v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		unsigned d;

		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned)(*s - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Whether s can be a JSON string (valid UTF-8). */
static int utf8_valid(const char *s)
{
	json_t *v = json_string(s);
	int ok = v != NULL;

	json_decref(v);
	return ok;
}

/* Refuse arguments that cannot go into a JSON body. Returns CTL_OK or
 * CTL_USAGE (reported). */
int ctl_args_utf8(struct ctl *ctl, const struct ctl_args *a)
{
	size_t i;

	for (i = 0; i < a->npos; i++)
		if (!utf8_valid(a->pos[i]))
			return ctl_usage_error(
			    ctl, a, "argument %zu is not valid utf-8", i + 1);
	for (i = 0; i < CTL_MAX_OPTS; i++)
		if (a->opt[i] != NULL && !utf8_valid(a->opt[i]))
			return ctl_usage_error(
			    ctl, a, "option --%.*s is not valid utf-8",
			    (int)strcspn(a->cmd->opts[i], "="),
			    a->cmd->opts[i]);
	return CTL_OK;
}

int ctl_one_of(const char *s, const char *const *allowed)
{
	for (; *allowed != NULL; allowed++)
		if (strcmp(s, *allowed) == 0)
			return 1;
	return 0;
}

/* Print a finished write: with --json the answer, else the sentence and
 * " (decision N)" when the answer names one. */
int ctl_vwrite_done(struct ctl *ctl, json_t *resp, const char *trailer,
		    const char *fmt, va_list ap)
{
	char *s;

	if (ctl->json) {
		int rv = ctl_print_json(ctl, resp);

		json_decref(resp);
		return rv;
	}
	if (vasprintf(&s, fmt, ap) < 0) {
		json_decref(resp);
		return ctl_out_of_memory(ctl);
	}
	ctl_say(ctl->out, "%s%s", s, trailer);
	free(s);
	json_decref(resp);
	return CTL_OK;
}

int ctl_write_done(struct ctl *ctl, json_t *resp, const char *fmt, ...)
{
	json_t *decision = json_object_get(resp, "decision");
	char trailer[64] = "";
	va_list ap;
	int rv;

	if (json_is_integer(decision))
		snprintf(trailer, sizeof trailer,
			 " (decision %" JSON_INTEGER_FORMAT ")",
			 json_integer_value(decision));
	va_start(ap, fmt);
	rv = ctl_vwrite_done(ctl, resp, trailer, fmt, ap);
	va_end(ap);
	return rv;
}

int ctl_get_list(struct ctl *ctl, const char *path, const char *key,
		 json_t **resp, json_t **list)
{
	int rv = ctl_call(ctl, "GET", path, NULL, resp);

	*list = NULL;
	if (rv != CTL_OK)
		return rv;
	if (ctl->json) {
		rv = ctl_print_json(ctl, *resp);
		json_decref(*resp);
		*resp = NULL;
		return rv;
	}
	*list = json_object_get(*resp, key);
	if (!json_is_array(*list)) {
		json_decref(*resp);
		*resp = NULL;
		ctl_say(ctl->err, "poolpairctl: bad answer: no '%s' list", key);
		return CTL_FAILED;
	}
	return CTL_OK;
}

/* Simple writes: DELETE PREFIX/NAME and say what was done. */
int ctl_delete_named(struct ctl *ctl, const char *prefix, const char *name,
		     const char *done_fmt)
{
	char *path = ctl_path_join(prefix, name);
	json_t *resp;
	int rv;

	if (path == NULL)
		return ctl_out_of_memory(ctl);
	rv = ctl_call(ctl, "DELETE", path, NULL, &resp);
	free(path);
	if (rv != CTL_OK)
		return rv;
	return ctl_write_done(ctl, resp, done_fmt, name);
}

/* POST body (owned: released here) to path. */
int ctl_post_owned(struct ctl *ctl, const char *path, json_t *body,
		   json_t **resp)
{
	int rv;

	if (body == NULL)
		return ctl_out_of_memory(ctl);
	rv = ctl_call(ctl, "POST", path, body, resp);
	json_decref(body);
	return rv;
}
