/* content_sweep: the periodic work of the content module (content.h,
 * "Space" and "Incomplete uploads"): the store's space figures refreshed,
 * and incomplete items of stopped uploads removed by the writer of the
 * pool that owns them. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/content.h"
#include "agent/log.h"
#include "replication/hlc.h"

#define MOD "content"
#define SPACE_EVERY_MS 2000
#define SWEEP_MIN_MS 1000
#define SWEEP_MAX_MS 60000
#define SWEEP_BATCH 100

/* One incomplete item being removed. */
struct sweep_del {
	struct content *c;
	char user_set[FSM_NAME_LEN];
	char key[STORE_KEY_MAX + 1];
	uint64_t total, stored;
};

/* One user set being listed. */
struct sweep_list {
	struct content *c;
	char user_set[FSM_NAME_LEN];
};

static uint64_t sweep_every_ms(const struct content *c)
{
	uint64_t ms = c->deps.upload_timeout_ms / 4;

	return ms < SWEEP_MIN_MS   ? SWEEP_MIN_MS
	       : ms > SWEEP_MAX_MS ? SWEEP_MAX_MS
				   : ms;
}

static void deleted(void *arg, int status, const struct store_write_result *r)
{
	struct sweep_del *d = arg;
	struct content *c = d->c;

	c->sweeping--;
	dataplane_write_done(c->deps.data, d->user_set, status, r);
	if (status != 0) {
		LOG_WARN(MOD, "%s: incomplete item not removed: %s", d->key,
			 r->errmsg[0] ? r->errmsg : store_strerror(status));
	} else {
		c->removed++;
		c->removed_bytes += d->stored;
		LOG_INFO(MOD,
			 "%s: incomplete upload removed (%" PRIu64
			 " of %" PRIu64 " bytes stored, unchanged for "
			 "upload_timeout %" PRIu32 " ms; seq %" PRIu64 ")",
			 d->key, d->stored, d->total, c->deps.upload_timeout_ms,
			 r->seq);
	}
	free(d);
}

/* Removes item e of user set p (this agent may write p now). */
static void remove_item(struct content *c, const struct fsm_pool *p,
			const struct store_content_entry *e)
{
	struct sweep_del *d = calloc(1, sizeof *d);
	struct store_write w;
	int rv;

	if (d == NULL)
		return;
	d->c = c;
	snprintf(d->user_set, sizeof d->user_set, "%s", p->name);
	d->total = e->total;
	d->stored = e->stored;
	if (store_key_content(d->key, sizeof d->key, e->sip, e->conf_id,
			      e->name) != 0 ||
	    content_uploading(c, p->name, d->key)) {
		free(d);
		return;
	}
	content_write_init(c, p, POOLPAIR__REPL__OP__OP_DELETE, d->key, &w);
	rv = store_write(&c->deps.data->store, &w, deleted, d);
	if (rv != 0) {
		LOG_WARN(MOD, "%s: incomplete item not removed: %s", d->key,
			 store_strerror(rv));
		free(d);
		return;
	}
	c->sweeping++;
}

/* The user set p as this agent may write it now, or NULL. */
static const struct fsm_pool *writable(struct content *c, const char *name)
{
	const struct fsm_pool *p = fsm_pool_find(c->deps.fsm, name);
	char why[256];

	if (p == NULL || strcmp(p->owner, c->pool) != 0 ||
	    dataplane_may_write(c->deps.data, p, why, sizeof why) != 0)
		return NULL;
	return p;
}

static void listed(void *arg, int status, const struct store_content_list *l)
{
	struct sweep_list *sl = arg;
	struct content *c = sl->c;
	const struct fsm_pool *p;

	c->sweeping--;
	if (status != 0) {
		LOG_WARN(MOD, "%s: incomplete items not listed: %s",
			 sl->user_set,
			 l->errmsg[0] ? l->errmsg : store_strerror(status));
		free(sl);
		return;
	}
	/* still the writer of that user set (it may have changed meanwhile) */
	p = c->closing ? NULL : writable(c, sl->user_set);
	for (size_t i = 0; p != NULL && i < l->n; i++)
		remove_item(c, p, &l->v[i]);
	free(sl);
}

/* Lists the stale incomplete items of every user set this agent writes;
 * returns how many it lists. */
static unsigned sweep(struct content *c, uint64_t now_ms)
{
	unsigned n = 0;
	uint64_t cutoff_ms = now_ms > c->deps.upload_timeout_ms
				 ? now_ms - c->deps.upload_timeout_ms
				 : 0;
	uint64_t before =
	    cutoff_ms > HLC_MS_MAX ? UINT64_MAX : cutoff_ms << HLC_COUNTER_BITS;

	for (unsigned i = 0; i < c->deps.fsm->n_pools; i++) {
		const struct fsm_pool *p =
		    writable(c, c->deps.fsm->pools[i].name);
		struct sweep_list *sl;

		if (p == NULL)
			continue;
		sl = calloc(1, sizeof *sl);
		if (sl == NULL)
			break;
		sl->c = c;
		snprintf(sl->user_set, sizeof sl->user_set, "%s", p->name);
		if (store_content_incomplete(&c->deps.data->store, p->name,
					     before, SWEEP_BATCH, listed,
					     sl) != 0) {
			free(sl);
			continue;
		}
		c->sweeping++;
		n++;
	}
	return n;
}

void content_sweep_tick(struct content *c)
{
	struct dataplane *dp = c->deps.data;
	uint64_t now_ms;

	if (c->closing || dp->state != DP_OPEN)
		return;
	now_ms = clock_wall_ms(c->deps.clock);
	if (now_ms >= c->next_space_ms &&
	    store_space_refresh(&dp->store, NULL, NULL) == 0)
		c->next_space_ms = now_ms + SPACE_EVERY_MS;
	/* one sweep at a time; the first one as soon as this agent writes a
	 * user set (leftovers of an earlier run) */
	if (c->sweeping > 0 || now_ms < c->next_sweep_ms)
		return;
	if (sweep(c, now_ms) > 0)
		c->next_sweep_ms = now_ms + sweep_every_ms(c);
}

json_t *content_disk_json(const struct content *c)
{
	const struct dataplane *dp = c->deps.data;
	const struct store_space *sp;
	uint64_t room;
	json_t *o;

	if (dp == NULL || dp->state != DP_OPEN)
		return NULL;
	sp = store_space(&dp->store);
	room = store_space_room(sp);
	o = json_pack(
	    "{s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:I}", "free_bytes",
	    (json_int_t)sp->fs_free, "size_bytes", (json_int_t)sp->fs_size,
	    "store_free_bytes", (json_int_t)sp->db_free, "reserve_bytes",
	    (json_int_t)sp->reserve, "room_bytes",
	    (json_int_t)(room == UINT64_MAX ? 0 : room), "under_reserve",
	    store_space_under(sp), "uploads_removed", (json_int_t)c->removed,
	    "uploads_removed_bytes", (json_int_t)c->removed_bytes);
	if (o == NULL)
		return NULL;
	if (sp->err != 0)
		json_object_set_new(o, "error", json_string(strerror(sp->err)));
	if (store_space_under(sp)) {
		char msg[256];

		snprintf(msg, sizeof msg,
			 "the disk of data_dir has %" PRIu64
			 " bytes free, under the reserve of %" PRIu64
			 " bytes: writes are answered 507 insufficient_storage",
			 sp->fs_free + sp->db_free, sp->reserve);
		json_object_set_new(o, "warning", json_string(msg));
	}
	return o;
}
