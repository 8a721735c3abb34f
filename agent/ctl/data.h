/* data: what the data-plane commands of poolpairctl share (users.c,
 * conference.c, content.c; docs/api.md, "Data plane").
 *
 * They talk to the agent named by --api through client_transfer() on the
 * client's handle, base URL and timeout, because user data may be any
 * JSON value (not only an object) and content is streamed. A 307/308
 * answer is followed as client_request() does; a 421 not_writer answer
 * (the agent asked is a standby of its pool) is followed once, to the
 * writer's API it names; a 421 not_owner answer names the agent that owns
 * the user set and is reported as "not the owner: ask OWNER_API" (exit
 * 1).
 *
 * Every function takes a borrowed ctl and reports on ctl->err what it
 * refuses or what failed; return values are CTL_OK, CTL_FAILED or
 * CTL_USAGE (enum ctl_exit) unless said otherwise. */
#ifndef POOLPAIR_CTL_DATA_H
#define POOLPAIR_CTL_DATA_H

#include <jansson.h>
#include <stddef.h>

#include "agent/ctl/client.h"
#include "agent/ctl/ctl.h"

#define DATA_MAX_VALUE (1024L * 1024) /* bytes of one JSON value */
#define DATA_MAX_SIP 255	      /* characters of a SIP URI */

/* ---- arguments ---- */

/* Whether s is a SIP URI the API accepts: "sip:USER@HOST", at most
 * DATA_MAX_SIP characters, USER and HOST non-empty and made of
 * [A-Za-z0-9._+~-]. */
int data_sip_valid(const char *s);

/* CTL_OK when sip is valid, else CTL_USAGE (reported with a's usage). */
int data_check_sip(struct ctl *ctl, const struct ctl_args *a, const char *sip);

/* A path segment other than the SIP (what names it in the message): not
 * empty, valid UTF-8. CTL_OK or CTL_USAGE (reported). */
int data_check_segment(struct ctl *ctl, const struct ctl_args *a,
		       const char *what, const char *s);

/* "/v1/users/ESC(sip)" followed by "/ESC(seg)" for each of the n segments
 * (const char *), escaped with client_escape(). Returns a malloc()ed path
 * owned by the caller, or NULL when out of memory. */
char *data_user_path(const char *sip, size_t n, ...);

/* The JSON value (any JSON, at most DATA_MAX_VALUE bytes compact) of
 * --value (a->opt[0]) or --file FILE|- (a->opt[1], at most 4 MiB read),
 * checked before anything is sent: exactly one of them, valid JSON
 * without duplicate keys. Returns CTL_OK and *value (owned by the
 * caller), or CTL_USAGE / CTL_FAILED (reported) with *value NULL. */
int data_load_value(struct ctl *ctl, const struct ctl_args *a, json_t **value);

/* ---- calls ---- */

/* Run x (see client_transfer(); x->progress may be set) on ctl's client;
 * a 421 not_writer answer is run once more at the writer's API it names
 * (the body sent again from its start) when client_redirect_ok() allows
 * it (else CTL_FAILED, reported). CTL_OK when an answer arrived
 * (x->status, its body in x->buf or x->out), else CTL_FAILED (reported).
 * Release x either way. */
int data_transfer(struct ctl *ctl, struct client_xfer *x);

/* After data_transfer(): on a 2xx, *resp is x->buf parsed (owned by the
 * caller; NULL for an empty body) and CTL_OK; otherwise the answer is
 * reported like ctl_call() does, a 421 naming the owner's API, with
 * --json also printed on ctl->out, and CTL_FAILED with *resp NULL. */
int data_answer(struct ctl *ctl, const struct client_xfer *x, json_t **resp);

/* A JSON call: body (borrowed, any JSON value, may be NULL). As
 * ctl_call(), also for 421 answers and scalar bodies. */
int data_call(struct ctl *ctl, const char *method, const char *path,
	      json_t *body, json_t **resp);

/* PUT value (owned: released here) to path (owned: freed here; NULL:
 * out of memory); *resp as data_call(). */
int data_put_value(struct ctl *ctl, char *path, json_t *value, json_t **resp);

/* ---- output ---- */

/* Text of resp's integer member key (buf, len bytes), or "-". */
const char *data_int_text(json_t *resp, const char *key, char *buf, size_t len);

/* Print a finished write: with --json the answer, else "SENTENCE (epoch
 * E, seq S)" (printf-style) on ctl->out. Releases resp. */
int data_write_done(struct ctl *ctl, json_t *resp, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* GET path (owned: freed here; NULL: out of memory) and print its
 * "value": only the value on ctl->out and "epoch E, seq S, copy
 * own|backup|standby" on ctl->err (the value flushed first); with --json the whole
 * answer on ctl->out. */
int data_get_value(struct ctl *ctl, char *path);

#endif
