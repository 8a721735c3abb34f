/* store_sync: the durability barrier between the writer and the reader.
 *
 * The writer connection runs with synchronous=NORMAL: its COMMIT appends
 * the group's frames to the write-ahead log and publishes them (the
 * reader sees them from then on) without a sync. store_sync_end() then
 * syncs the log (the same xSync SQLite's own synchronous=FULL commit
 * would call) before any callback of the group fires, so a callback that
 * reports success still means durable. Between the two a read may see
 * the group: store_sync_wait() lets the reads that feed another agent
 * (outbox, positions, digests, seeds; store.h "Durability") wait until
 * every commit they could have seen is synced. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "replication/store_internal.h"

int store_sync_init(struct store *s)
{
	struct store_sync *y = &s->sync;

	y->committed = y->synced = 0;
	y->n_bounds = 0;
	y->lowered = 0;
	y->err = 0;
	y->errmsg[0] = '\0';
	if (uv_mutex_init(&y->lock) != 0)
		return STORE_E_IO;
	if (uv_cond_init(&y->cond) != 0) {
		uv_mutex_destroy(&y->lock);
		return STORE_E_IO;
	}
	return 0;
}

void store_sync_destroy(struct store *s)
{
	uv_cond_destroy(&s->sync.cond);
	uv_mutex_destroy(&s->sync.lock);
}

void store_set_sync_hook(struct store *s, int (*fn)(void *arg), void *arg)
{
	uv_mutex_lock(&s->sync.lock);
	s->sync.hook = fn;
	s->sync.hook_arg = arg;
	uv_mutex_unlock(&s->sync.lock);
}

int store_sync_failed(struct store *s, char *errmsg, size_t len)
{
	int err;

	uv_mutex_lock(&s->sync.lock);
	err = s->sync.err;
	if (err != 0)
		snprintf(errmsg, len, "%s", s->sync.errmsg);
	uv_mutex_unlock(&s->sync.lock);
	return err;
}

void store_sync_track_reset(struct store_conn *c)
{
	c->n_ob = 0;
	c->ob_overflow = false;
}

void store_sync_track(struct store_conn *c, const char *user_set, int lane,
		      uint64_t seq)
{
	size_t i;

	for (i = 0; i < c->n_ob; i++) {
		if (c->ob[i].lane == lane &&
		    strcmp(c->ob[i].user_set, user_set) == 0) {
			if (seq < c->ob[i].min)
				c->ob[i].min = seq;
			if (seq > c->ob[i].max)
				c->ob[i].max = seq;
			return;
		}
	}
	if (c->n_ob == STORE_SYNC_TRACK) {
		c->ob_overflow = true;
		return;
	}
	snprintf(c->ob[i].user_set, sizeof(c->ob[i].user_set), "%s", user_set);
	c->ob[i].lane = lane;
	c->ob[i].min = c->ob[i].max = seq;
	c->n_ob++;
}

/* Under the lock: the index of the bound of (user_set, lane), with add
 * added (not valid) when there is room; SIZE_MAX when there is none. */
static size_t bound_find(struct store_sync *y, const char *user_set, int lane,
			 bool add)
{
	size_t i;

	for (i = 0; i < y->n_bounds; i++)
		if (y->bounds[i].lane == lane &&
		    strcmp(y->bounds[i].user_set, user_set) == 0)
			return i;
	if (!add || y->n_bounds == STORE_SYNC_BOUNDS)
		return SIZE_MAX;
	snprintf(y->bounds[i].user_set, sizeof(y->bounds[i].user_set), "%s",
		 user_set);
	y->bounds[i].lane = lane;
	y->bounds[i].valid = false;
	y->bounds[i].durable = 0;
	y->n_bounds++;
	return i;
}

uint64_t store_sync_begin(struct store *s, struct store_conn *c)
{
	struct store_sync *y = &s->sync;
	uint64_t gen;

	/* Before the COMMIT publishes the group: its records are not
	 * durable, so no bound may cover them. Every earlier group is
	 * synced (one group at a time), so what lies below the group's
	 * first record is. A stream the group inserted into beyond what
	 * is tracked loses every bound (reads of it wait again). Counted
	 * before the COMMIT runs too: a read that ends after the COMMIT
	 * finds the group counted. */
	uv_mutex_lock(&y->lock);
	if (c->ob_overflow) {
		for (size_t i = 0; i < y->n_bounds; i++)
			y->bounds[i].valid = false;
		y->lowered++;
	}
	for (size_t k = 0; k < c->n_ob; k++) {
		size_t i =
		    bound_find(y, c->ob[k].user_set, c->ob[k].lane, true);
		uint64_t below = c->ob[k].min - 1;
		if (i == SIZE_MAX)
			continue;
		if (!y->bounds[i].valid || y->bounds[i].durable > below) {
			y->bounds[i].durable = below;
			y->bounds[i].valid = !c->ob_overflow;
			y->lowered++;
		}
	}
	gen = ++y->committed;
	uv_mutex_unlock(&y->lock);
	return gen;
}

uint64_t store_sync_bound_reads(struct store *s, struct store_op *batch)
{
	struct store_sync *y = &s->sync;
	uint64_t lowered;

	uv_mutex_lock(&y->lock);
	for (struct store_op *op = batch; op; op = op->next) {
		size_t i;
		op->bounded = false;
		if (op->type != STORE_OP_OUTBOX_READ)
			continue;
		i = bound_find(y, op->ch.user_set, op->ch.lane, false);
		if (i != SIZE_MAX && y->bounds[i].valid) {
			op->bounded = true;
			op->durable = y->bounds[i].durable;
		}
	}
	lowered = y->lowered;
	uv_mutex_unlock(&y->lock);
	return lowered;
}

bool store_sync_bounds_held(struct store *s, uint64_t lowered)
{
	bool held;

	uv_mutex_lock(&s->sync.lock);
	held = s->sync.lowered == lowered;
	uv_mutex_unlock(&s->sync.lock);
	return held;
}

/* Worker: sync the write-ahead log of the writer connection. Returns 0 or
 * an SQLite code; with no log open, missing (SQLITE_IOERR_FSYNC unless
 * missing_ok). */
static int sync_wal(struct store_conn *c, bool missing_ok)
{
	sqlite3_file *f = NULL;
	int rc;

	rc = sqlite3_file_control(c->db, "main", SQLITE_FCNTL_JOURNAL_POINTER,
				  &f);
	if (rc != SQLITE_OK)
		return rc;
	if (f == NULL || f->pMethods == NULL)
		return missing_ok ? SQLITE_OK : SQLITE_IOERR_FSYNC;
	return f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
}

int store_sync_open(struct store_conn *c) { return sync_wal(c, true); }

int store_sync_end(struct store *s, struct store_conn *c, uint64_t gen,
		   bool committed, char *errmsg, size_t len)
{
	int (*hook)(void *arg);
	void *hook_arg;
	int rv = 0;

	uv_mutex_lock(&s->sync.lock);
	hook = s->sync.hook;
	hook_arg = s->sync.hook_arg;
	uv_mutex_unlock(&s->sync.lock);
	if (committed) {
		int rc = hook != NULL ? hook(hook_arg) : sync_wal(c, false);
		if (rc != 0) {
			snprintf(errmsg, len, "sync of the write-ahead log: %s",
				 hook != NULL ? "failed (hook)"
					      : sqlite3_errstr(rc));
			rv = STORE_E_IO;
		}
	}
	uv_mutex_lock(&s->sync.lock);
	if (rv != 0 && s->sync.err == 0) {
		s->sync.err = rv;
		snprintf(s->sync.errmsg, sizeof(s->sync.errmsg), "%s", errmsg);
	}
	if (rv == 0 && committed) {
		/* durable now: what the group inserted, and all below */
		for (size_t k = 0; k < c->n_ob; k++) {
			size_t i = bound_find(&s->sync, c->ob[k].user_set,
					      c->ob[k].lane, false);
			if (i != SIZE_MAX &&
			    s->sync.bounds[i].durable < c->ob[k].max) {
				s->sync.bounds[i].durable = c->ob[k].max;
				s->sync.bounds[i].valid = true;
			}
		}
	}
	if (gen > s->sync.synced)
		s->sync.synced = gen;
	uv_cond_broadcast(&s->sync.cond);
	uv_mutex_unlock(&s->sync.lock);
	return rv;
}

int store_sync_wait(struct store *s, char *errmsg, size_t len)
{
	int err;

	uv_mutex_lock(&s->sync.lock);
	uint64_t target = s->sync.committed;
	while (s->sync.synced < target && s->sync.err == 0)
		uv_cond_wait(&s->sync.cond, &s->sync.lock);
	err = s->sync.err;
	if (err != 0)
		snprintf(errmsg, len, "%s", s->sync.errmsg);
	uv_mutex_unlock(&s->sync.lock);
	return err;
}
