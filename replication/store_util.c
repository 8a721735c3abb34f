/* store helpers shared by both sides: the per-operation arena, error
 * reporting, statements, record checks and record keys. Thread-safe: no
 * shared state. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replication/store_internal.h"

/* ---- arena ------------------------------------------------------------ */

struct store_arena_blk {
	struct store_arena_blk *next;
	size_t used, cap;
	_Alignas(max_align_t) unsigned char data[];
};

#define ARENA_BLOCK 4096

void *store_arena_alloc(struct store_arena *a, size_t n)
{
	const size_t align = _Alignof(max_align_t);
	size_t need = (n + align - 1) & ~(align - 1);
	struct store_arena_blk *b = a->head;

	if (need < n)
		return NULL;
	if (b == NULL || b->cap - b->used < need) {
		size_t cap = need > ARENA_BLOCK ? need : ARENA_BLOCK;
		if (cap > SIZE_MAX - sizeof(*b))
			return NULL;
		b = malloc(sizeof(*b) + cap);
		if (b == NULL)
			return NULL;
		b->used = 0;
		b->cap = cap;
		if (need > ARENA_BLOCK && a->head != NULL) {
			/* A big block of its own: keep filling the current
			 * small one afterwards. */
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	void *p = b->data + b->used;
	b->used += need;
	memset(p, 0, n);
	return p;
}

char *store_arena_strdup(struct store_arena *a, const char *str)
{
	return store_arena_memdup(a, str, strlen(str) + 1);
}

void *store_arena_memdup(struct store_arena *a, const void *p, size_t n)
{
	void *d = store_arena_alloc(a, n ? n : 1);
	if (d != NULL && n > 0)
		memcpy(d, p, n);
	return d;
}

void store_arena_free(struct store_arena *a)
{
	struct store_arena_blk *b = a->head;
	while (b != NULL) {
		struct store_arena_blk *next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
}

/* ---- errors ----------------------------------------------------------- */

int store_op_fail(struct store_op *op, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(op->errmsg, sizeof(op->errmsg), fmt, ap);
	va_end(ap);
	op->status = status;
	return status;
}

int store_op_dberr(struct store_op *op, struct store_conn *c, int rc,
		   const char *what)
{
	int code = store_sqlite_code(rc);
	if (code == 0)
		code = STORE_E_IO;
	return store_op_fail(op, code, "%s: %s", what, sqlite3_errmsg(c->db));
}

/* ---- statements ------------------------------------------------------- */

/* Step a statement that returns no row; reset it. SQLite code. */
int store_step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ---- checks ----------------------------------------------------------- */

int store_lane_of(int kind)
{
	return kind == POOLPAIR__REPL__KIND__KIND_CONTENT
		   ? POOLPAIR__REPL__LANE__LANE_CONTENT
		   : POOLPAIR__REPL__LANE__LANE_DATA;
}

bool store_name_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && strlen(s) < STORE_NAME_MAX;
}

/* Number of '/' in key and whether the parts around them are non-empty. */
static bool key_parts_ok(const char *key, int parts)
{
	const char *p = key;
	for (int i = 0; i < parts - 1; i++) {
		const char *slash = strchr(p, '/');
		if (slash == NULL || slash == p)
			return false;
		p = slash + 1;
	}
	if (*p == '\0')
		return false;
	/* The last part of a conference key and a plain sip hold no '/';
	 * a content name (third part) may. */
	return parts == 3 || strchr(p, '/') == NULL;
}

int store_key_split(const char *key, int parts, struct store_key_parts *kp)
{
	const char *p = key;
	memset(kp, 0, sizeof(*kp));
	if (key == NULL || !key_parts_ok(key, parts))
		return STORE_E_INVALID;
	for (int i = 0; i < parts; i++) {
		const char *slash = i < parts - 1 ? strchr(p, '/') : NULL;
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		kp->part[i] = p;
		kp->len[i] = n;
		p += n + 1;
	}
	return 0;
}

int store_change_check(const struct store_change *ch, char *errmsg, size_t len)
{
	const char *why = NULL;
	bool content = ch->kind == POOLPAIR__REPL__KIND__KIND_CONTENT;

	if (ch->epoch > INT64_MAX || ch->seq > INT64_MAX ||
	    ch->offset > INT64_MAX || ch->total > INT64_MAX)
		why = "number out of range";
	else if (!store_name_ok(ch->user_set))
		why = "user set name empty or too long";
	else if (ch->key == NULL || ch->key[0] == '\0')
		why = "empty key";
	else if (strlen(ch->key) > STORE_KEY_MAX)
		why = "key too long";
	else if (ch->value_len > STORE_VALUE_MAX)
		why = "value too large";
	else if (ch->value_len > 0 && ch->value == NULL)
		why = "value missing";
	else if (ch->kind < POOLPAIR__REPL__KIND__KIND_PROFILE ||
		 ch->kind > POOLPAIR__REPL__KIND__KIND_USER)
		why = "unknown kind";
	else if (ch->op != POOLPAIR__REPL__OP__OP_PUT &&
		 ch->op != POOLPAIR__REPL__OP__OP_DELETE &&
		 ch->op != POOLPAIR__REPL__OP__OP_CONTENT_CHUNK)
		why = "unknown op";
	else if (content && ch->op == POOLPAIR__REPL__OP__OP_PUT)
		why = "content is written in chunks, not put";
	else if (!content && ch->op == POOLPAIR__REPL__OP__OP_CONTENT_CHUNK)
		why = "content chunk of a kind that is not content";
	else if (ch->lane != store_lane_of(ch->kind))
		why = "record on the wrong lane for its kind";
	else if (ch->kind == POOLPAIR__REPL__KIND__KIND_CONFERENCE &&
		 !key_parts_ok(ch->key, 2))
		why = "conference key is not <sip>/<conf_id>";
	else if (content && !key_parts_ok(ch->key, 3))
		why = "content key is not <sip>/<conf_id>/<name>";
	else if (ch->kind != POOLPAIR__REPL__KIND__KIND_CMS &&
		 ch->kind != POOLPAIR__REPL__KIND__KIND_CONFERENCE &&
		 !content && strchr(ch->key, '/') != NULL)
		why = "sip uri holds '/'";
	else if (ch->kind == POOLPAIR__REPL__KIND__KIND_USER &&
		 ch->op == POOLPAIR__REPL__OP__OP_PUT &&
		 (ch->value_len == 0 || ch->value_len >= STORE_NAME_MAX ||
		  memchr(ch->value, '\0', ch->value_len) != NULL))
		why = "user record needs a home pool name as value";
	else if (ch->op == POOLPAIR__REPL__OP__OP_CONTENT_CHUNK &&
		 (ch->offset > ch->total ||
		  ch->value_len > ch->total - ch->offset))
		why = "content chunk past the item's total size";
	else if (ch->op == POOLPAIR__REPL__OP__OP_CONTENT_CHUNK &&
		 ch->value_len == 0 && ch->total > 0)
		why = "empty content chunk";
	if (why == NULL)
		return 0;
	snprintf(errmsg, len, "%s", why);
	return STORE_E_INVALID;
}

int store_key_conference(char *buf, size_t len, const char *sip,
			 const char *conf_id)
{
	if (sip == NULL || conf_id == NULL || !sip[0] || !conf_id[0] ||
	    strchr(sip, '/') || strchr(conf_id, '/'))
		return STORE_E_INVALID;
	int n = snprintf(buf, len, "%s/%s", sip, conf_id);
	if (n < 0 || (size_t)n >= len || (size_t)n > STORE_KEY_MAX)
		return STORE_E_INVALID;
	return 0;
}

int store_key_content(char *buf, size_t len, const char *sip,
		      const char *conf_id, const char *name)
{
	if (sip == NULL || conf_id == NULL || name == NULL || !sip[0] ||
	    !conf_id[0] || !name[0] || strchr(sip, '/') || strchr(conf_id, '/'))
		return STORE_E_INVALID;
	int n = snprintf(buf, len, "%s/%s/%s", sip, conf_id, name);
	if (n < 0 || (size_t)n >= len || (size_t)n > STORE_KEY_MAX)
		return STORE_E_INVALID;
	return 0;
}
