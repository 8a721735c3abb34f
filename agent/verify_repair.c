/* verify_repair: the repairs of one verify (verify_internal.h): for each
 * difference found, read the owner's item (a content item chunk by
 * chunk) and send it to the pair as a change record (POST
 * /v1/internal/repair), or send the delete or purge of what only the
 * backup holds. A difference the pair refuses, or that cannot be read
 * here, gets a note and the next one goes on; when the pair is gone the
 * verify ends (502). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/log.h"
#include "agent/verify_b64.h"
#include "agent/verify_internal.h"

#define MOD VERIFY_MOD
/* the API takes bodies up to 1 MiB + 4 KiB (agent.c) */
#define BODY_B64_MAX ((size_t)1 << 20)
#define BODY_RAW_MAX (((size_t)1 << 20) + 2048)

static void next_repair(struct verify_run *r);
static void send_record(struct verify_run *r);

static uint64_t hlc(const struct verify_run *r)
{
	return r->m->d.data_ops->hlc(r->m->d.data);
}

void vrun_start_repairs(struct verify_run *r)
{
	LOG_INFO(MOD, "%s: %" PRIu64 " differences%s", r->user_set,
		 r->diffs_total,
		 r->repair && r->n_diffs > 0 ? ": repairing" : "");
	r->di = 0;
	if (!r->repair || r->n_diffs == 0 || r->incomplete) {
		/* nothing changed: the comparison is the answer */
		r->equal_after = r->diffs_total == 0 && !r->incomplete;
		vrun_finish(r, 200, NULL, NULL);
		return;
	}
	next_repair(r);
}

/* The current difference is settled (d->repaired / d->note set): go on. */
static void repair_done(struct verify_run *r)
{
	r->di++;
	next_repair(r);
}

static void note(struct verify_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note(struct verify_run *r, const char *fmt, ...)
{
	struct vdiff *d = &r->diffs[r->di];
	char buf[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	free(d->note);
	d->note = strdup(buf);
	LOG_WARN(MOD, "%s: %s %s not repaired: %s", r->user_set,
		 store_kind_name(d->kind), d->key, buf);
}

/* Fill r->rec for the current difference (value copied into vbuf). */
static int set_record(struct verify_run *r, int op, const void *value,
		      size_t len, uint64_t offset, uint64_t total,
		      uint64_t seq, uint64_t hlc)
{
	const struct vdiff *d = &r->diffs[r->di];

	free(r->vbuf);
	r->vbuf = malloc(len > 0 ? len : 1);
	if (r->vbuf == NULL)
		return -ENOMEM;
	if (len > 0)
		memcpy(r->vbuf, value, len);
	snprintf(r->vkey, sizeof r->vkey, "%s", d->key);
	poolpair__repl__change_record__init(&r->rec);
	r->rec.user_set = r->user_set;
	r->rec.epoch = r->epoch;
	r->rec.seq = seq;
	r->rec.hlc = hlc;
	r->rec.op = (Poolpair__Repl__Op)op;
	r->rec.kind = (Poolpair__Repl__Kind)d->kind;
	r->rec.key = r->vkey;
	r->rec.value.data = r->vbuf;
	r->rec.value.len = len;
	r->rec.offset = offset;
	r->rec.total = total;
	r->rec.lane = d->kind == KIND_CONTENT
			  ? POOLPAIR__REPL__LANE__LANE_CONTENT
			  : POOLPAIR__REPL__LANE__LANE_DATA;
	return 0;
}

/* Send a record of op with no value (a delete, or a purge: a user record
 * the owner does not have at all goes from the backup only with
 * remove_users, a failback, where it is archived). */
static void send_empty(struct verify_run *r, int op)
{
	if (set_record(r, op, NULL, 0, 0, 0, 0, hlc(r)) != 0) {
		vrun_fail(r, 500, "internal", "out of memory");
		return;
	}
	send_record(r);
}

static void item_got(void *arg, int status, const struct store_item *it)
{
	struct verify_run *r = arg;
	struct vdiff *d = &r->diffs[r->di];

	if (status == STORE_E_NOT_FOUND) {
		/* removed at the owner since it was listed */
		if (d->kind == KIND_USER) {
			note(r, "the user record is gone at the owner");
			repair_done(r);
			return;
		}
		send_empty(r, POOLPAIR__REPL__OP__OP_DELETE);
		return;
	}
	if (status != 0) {
		note(r, "reading it at the owner failed: %s",
		     verify_emsg(it != NULL ? it->errmsg : NULL, status));
		repair_done(r);
		return;
	}
	r->user_enabled = it->enabled;
	if (set_record(r, POOLPAIR__REPL__OP__OP_PUT, it->value, it->value_len,
		       0, 0, it->seq, it->hlc) != 0) {
		vrun_fail(r, 500, "internal", "out of memory");
		return;
	}
	send_record(r);
}

static void piece_got(void *arg, int status,
		      const struct store_content_piece *p)
{
	struct verify_run *r = arg;
	struct vdiff *d = &r->diffs[r->di];

	if (status == STORE_E_NOT_FOUND && r->coff == 0) {
		send_empty(r, POOLPAIR__REPL__OP__OP_DELETE);
		return;
	}
	if (status != 0) {
		note(r, "reading its content at the owner failed: %s",
		     verify_emsg(p != NULL ? p->errmsg : NULL, status));
		repair_done(r);
		return;
	}
	if (r->coff > 0 && (p->total != r->ctotal || p->offset != r->coff)) {
		note(r, "the item changed at the owner while it was copied");
		repair_done(r);
		return;
	}
	r->ctotal = p->total;
	r->cstored = p->stored;
	if (p->len == 0) {
		if (r->coff > 0) { /* every stored byte went over */
			d->repaired = true;
			r->n_repaired++;
			repair_done(r);
		} else if (p->total == 0) {
			send_empty(r, POOLPAIR__REPL__OP__OP_CONTENT_CHUNK);
		} else {
			note(r,
			     "the owner holds none of its %" PRIu64
			     " bytes yet",
			     p->total);
			repair_done(r);
		}
		return;
	}
	if (set_record(r, POOLPAIR__REPL__OP__OP_CONTENT_CHUNK, p->data, p->len,
		       p->offset, p->total, 0, hlc(r)) != 0) {
		vrun_fail(r, 500, "internal", "out of memory");
		return;
	}
	send_record(r);
}

/* Read (the next piece of) the owner's item of the current difference. */
static void read_item(struct verify_run *r)
{
	struct vdiff *d = &r->diffs[r->di];
	struct store *s = r->m->d.store;
	int rv;

	vrun_to(r, VS_REPAIR_READ);
	if (d->kind != KIND_CONTENT) {
		rv = store_get(s, r->user_set, d->kind, d->key, item_got, r);
	} else {
		/* "<sip>/<conf_id>/<name>" */
		char sip[STORE_KEY_MAX + 1], conf[STORE_KEY_MAX + 1];
		const char *s1 = strchr(d->key, '/');
		const char *s2 = s1 != NULL ? strchr(s1 + 1, '/') : NULL;

		if (s2 == NULL) {
			note(r, "not a content key");
			repair_done(r);
			return;
		}
		snprintf(sip, sizeof sip, "%.*s", (int)(s1 - d->key), d->key);
		snprintf(conf, sizeof conf, "%.*s", (int)(s2 - s1 - 1), s1 + 1);
		rv = store_content_read(s, r->user_set, sip, conf, s2 + 1,
					r->coff, STORE_CONTENT_CHUNK, piece_got,
					r);
	}
	if (rv != 0)
		vrun_fail(r, 503, "unavailable", "store: %s",
			  store_strerror(rv));
}

static void next_repair(struct verify_run *r)
{
	struct vdiff *d;

	if (r->di >= r->n_diffs || vrun_past_deadline(r)) {
		if (r->attempted)
			vrun_redrain(r);
		else
			vrun_finish(r, 200, NULL, NULL);
		return;
	}
	d = &r->diffs[r->di];
	r->step = 0;
	r->coff = 0;
	r->ctotal = r->cstored = 0;
	if (d->problem == VP_ONLY_AT_BACKUP) {
		if (d->kind == KIND_USER && !r->remove_users) {
			note(r, "a user record is never removed by a repair "
				"(unless remove_users=true): the owner does not "
				"know this user");
			repair_done(r);
			return;
		}
		send_empty(r, d->kind == KIND_USER
				  ? POOLPAIR__REPL__OP__OP_PURGE_USER
				  : POOLPAIR__REPL__OP__OP_DELETE);
		return;
	}
	read_item(r);
}

static void repair_sent(void *arg, int err,
			const struct hclient_response *resp)
{
	struct verify_run *r = arg;
	struct vdiff *d = &r->diffs[r->di];

	vrun_pair_answered(r);
	if (err != 0) {
		/* the pair is gone: nothing further can be repaired */
		vrun_pair_error(r, "repair", err, resp);
		return;
	}
	if (resp->status != 200) {
		json_t *root = json_loadb(resp->body, resp->body_len, 0, NULL);
		const char *m =
		    json_string_value(json_object_get(root, "message"));

		note(r, "%s refused the repair (%d): %s", r->backup,
		     resp->status, m != NULL ? m : "no message");
		json_decref(root);
		repair_done(r);
		return;
	}
	if (r->rec.op == POOLPAIR__REPL__OP__OP_CONTENT_CHUNK &&
	    r->rec.value.len > 0) {
		r->coff += r->rec.value.len;
		if (r->coff < r->cstored) {
			read_item(r);
			return;
		}
	} else if (d->kind == KIND_USER && r->step == 0 &&
		   r->rec.op == POOLPAIR__REPL__OP__OP_PUT &&
		   !r->user_enabled) {
		r->step = 1; /* the owner's record is disabled */
		send_empty(r, POOLPAIR__REPL__OP__OP_DELETE);
		return;
	}
	d->repaired = true;
	r->n_repaired++;
	repair_done(r);
}

static void send_record(struct verify_run *r)
{
	size_t packed_len =
	    poolpair__repl__change_record__get_packed_size(&r->rec);
	uint8_t *packed = malloc(packed_len > 0 ? packed_len : 1);
	char *body = NULL;
	size_t body_len = 0;
	const char *ctype;

	vrun_to(r, VS_REPAIR_SEND);
	if (packed == NULL) {
		vrun_fail(r, 500, "internal", "out of memory");
		return;
	}
	poolpair__repl__change_record__pack(&r->rec, packed);
	if ((packed_len + 2) / 3 * 4 <= BODY_B64_MAX) {
		body = verify_b64_encode(packed, packed_len, &body_len);
		free(packed);
		if (body == NULL) {
			vrun_fail(r, 500, "internal", "out of memory");
			return;
		}
		ctype = "Content-Type: text/plain\r\n";
	} else if (packed_len <= BODY_RAW_MAX) {
		body = (char *)packed;
		body_len = packed_len;
		ctype = "Content-Type: application/x-protobuf\r\n";
	} else {
		free(packed);
		note(r, "the item (%zu bytes) is too large to send as a repair",
		     r->rec.value.len);
		repair_done(r);
		return;
	}
	r->attempted = true;
	vrun_pair_call(r, "send a repair to", "POST", "/v1/internal/repair",
		       ctype, body, body_len, repair_sent);
	free(body);
}
