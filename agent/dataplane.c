/* dataplane: the store's life, the epochs handed to it, the may-write
 * rules and what was written here (see dataplane.h). */
#include "agent/dataplane.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/dataplane_internal.h"
#include "agent/log.h"

#define MOD DATAPLANE_MOD

static void store_closed_cb(struct store *s);

const struct fsm_pool *dataplane_me(const struct dataplane *dp)
{
	return fsm_pool_find(dp->deps.fsm, dp->pool);
}

static bool lease_held(const struct dataplane *dp)
{
	return dp->deps.lease.ops->held(dp->deps.lease.impl);
}

static bool view_current(const struct dataplane *dp)
{
	return dp->deps.lease.ops->view_current(dp->deps.lease.impl);
}

static void opened(struct store *s, int status)
{
	struct dataplane *dp =
	    (struct dataplane *)((char *)s - offsetof(struct dataplane, store));

	if (dp->state == DP_CLOSING) {
		/* closed while opening: finish the close now */
		if (status == 0) {
			store_close(s, store_closed_cb);
			return;
		}
		dp->state = DP_CLOSED;
		dataplane_closed_one(dp);
		return;
	}
	if (status != 0) {
		snprintf(dp->errmsg, sizeof dp->errmsg, "store: %s",
			 s->errmsg[0] ? s->errmsg : store_strerror(status));
		LOG_ERROR(MOD, "%s", dp->errmsg);
		dp->state = DP_FAILED;
		return;
	}
	dp->state = DP_OPEN;
	LOG_INFO(MOD, "store open");
	dataplane_on_applied(dp);
}

int dataplane_init(struct dataplane *dp, const struct dataplane_deps *deps)
{
	char path[4200];
	int rv;

	memset(dp, 0, sizeof *dp);
	dp->deps = *deps;
	snprintf(dp->pool, sizeof dp->pool, "%s", deps->pool);
	snprintf(dp->data_dir, sizeof dp->data_dir, "%s",
		 deps->data_dir != NULL ? deps->data_dir : "");
	snprintf(dp->data_host, sizeof dp->data_host, "%s",
		 deps->data_host != NULL ? deps->data_host : "");
	dp->deps.pool = dp->pool;
	dp->deps.data_dir = dp->data_dir;
	dp->deps.data_host = dp->data_host;
	hlc_init(&dp->hlc, 0);
	if (dp->pool[0] == '\0') {
		dp->state = DP_NONE;
		return 0;
	}
	/* the mode is the pair's: set from the applied state (sync_follow) */
	dp->sync = SYNC_OFF;
	dp->sync_timeout_ms = FSM_SYNC_TIMEOUT_DEFAULT_MS;
	/* sync mode's fallback and return, and held-back divergence checks */
	uv_timer_init(deps->loop, &dp->sync_timer);
	dp->sync_timer.data = dp;
	dp->sync_timer_open = true;
	if (dataplane_local_init(dp) != 0) {
		snprintf(dp->errmsg, sizeof dp->errmsg, "out of memory");
		dp->state = DP_FAILED;
		return -ENOMEM;
	}
	snprintf(path, sizeof path, "%s/store.db", dp->data_dir);
	dp->state = DP_OPENING;
	rv = store_open_async(&dp->store, deps->loop, path,
			      &(struct store_config){
				  .reserve = deps->store_reserve,
				  .reserve_percent = deps->store_reserve_percent,
			      },
			      opened);
	if (rv != 0) {
		snprintf(dp->errmsg, sizeof dp->errmsg, "store %s: %s", path,
			 store_strerror(rv));
		dp->state = DP_FAILED;
		return rv;
	}
	return 0;
}

static void sync_tick(uv_timer_t *t)
{
	struct dataplane *dp = t->data;
	bool streaming = false;
	bool caught_up = false;
	/* without its lease, or behind the committed state, this writer may
	 * have been replaced (a local takeover while it was cut off or
	 * paused): its waits for the pair do not fall back (a success)
	 * before it knows; another writer applied fails them
	 * (dataplane_streams_stop) */
	bool sure = dp->deps.lease.ops->held(dp->deps.lease.impl) &&
		    view_current(dp);

	if (sure && dp->sync == SYNC_ON && dataplane_sender_seeding(dp))
		dataplane_sync_seeding(dp);
	/* a seed counts in the lag: sync mode returns after its end */
	if (dp->sync == SYNC_FALLBACK)
		caught_up =
		    dataplane_total_lag(dp, &streaming) == 0 && streaming;
	if (sure || dp->sync != SYNC_ON)
		dataplane_sync_check(dp, clock_mono_ns(dp->deps.clock),
				     caught_up);
	/* the local synchronous copy: its target lost, a candidate */
	if (dp->lsync.state != LSYNC_OFF && view_current(dp)) {
		struct dataplane_lsync_standby sb[FSM_MAX_MEMBERS];
		unsigned n = dataplane_lsync_standbys(dp, sb, FSM_MAX_MEMBERS);

		dataplane_lsync_check(dp, clock_mono_ns(dp->deps.clock), sb,
				      n);
	}
	dataplane_streams_follow(dp);
	dataplane_divert_pending(dp);
	dataplane_local_tick(dp);
	dataplane_seeds_tick(dp);
}

int dataplane_start(struct dataplane *dp)
{
	if (!dp->sync_timer_open)
		return 0;
	return uv_timer_start(&dp->sync_timer, sync_tick, 100, 100);
}

bool dataplane_ready(const struct dataplane *dp)
{
	return dp->state == DP_OPEN;
}

uint64_t dataplane_hlc(struct dataplane *dp)
{
	return hlc_now(&dp->hlc, clock_wall_ms(dp->deps.clock));
}

static void epoch_set(void *arg, int status, const char *errmsg)
{
	if (status != 0)
		LOG_WARN(MOD, "epoch: %s", errmsg);
	(void)arg;
}

/* Follow the replication mode of this pool's pair in the applied state:
 * sync or async, live. */
static void sync_follow(struct dataplane *dp)
{
	const struct fsm_pool *me = dataplane_me(dp);
	bool want =
	    me != NULL && me->pair[0] != '\0' && me->repl_mode == FSM_REPL_SYNC;
	uint32_t timeout = me != NULL ? fsm_pool_sync_timeout_ms(me)
				      : FSM_SYNC_TIMEOUT_DEFAULT_MS;

	dataplane_sync_follow(dp, want, timeout,
			      me != NULL && me->pair[0] != '\0'
				  ? "the pair's mode is async"
				  : "not paired");
}

/* Follow this pool's writer and synchronous standby in the applied state:
 * the local synchronous copy runs at the writer (store open). */
static void lsync_follow(struct dataplane *dp)
{
	const struct fsm_pool *me = dataplane_me(dp);

	dataplane_lsync_follow(
	    dp, dp->state == DP_OPEN && dataplane_writer(dp, NULL) == 1,
	    me != NULL ? me->sync_standby : 0,
	    me != NULL ? me->writer_token : 0);
}

/* The floor epoch of user_set to hand the store with its epoch: the
 * applied state's, never above the epoch; none known (0) reads as the
 * epoch, as strict as an epoch alone. */
static uint64_t floor_of(const struct fsm *f, const char *user_set,
			 uint64_t epoch)
{
	uint64_t floor = 0;

	if (!fsm_user_set_floor_epoch(f, user_set, &floor) || floor == 0 ||
	    floor > epoch)
		return epoch;
	return floor;
}

void dataplane_receiver_epochs(struct dataplane *dp, struct receiver *rx)
{
	const struct fsm *f = dp->deps.fsm;

	if (receiver_set_epoch(rx, DATAPLANE_CMS, f->cms_epoch) != 0)
		LOG_WARN(MOD, "receiver: committed epoch of %s not handed over",
			 DATAPLANE_CMS);
	for (unsigned i = 0; i < f->n_pools; i++)
		if (receiver_set_epoch(rx, f->pools[i].name,
				       f->pools[i].epoch) != 0)
			LOG_WARN(MOD,
				 "receiver: committed epoch of %s not handed over",
				 f->pools[i].name);
}

void dataplane_on_applied(struct dataplane *dp)
{
	const struct fsm *f = dp->deps.fsm;
	uint64_t floor;

	if (dp->state == DP_NONE)
		return;
	sync_follow(dp);
	lsync_follow(dp);
	if (dp->state != DP_OPEN)
		return;
	dataplane_streams_reconcile(dp);
	dataplane_drain_kick(dp);
	/* the epoch and its floor (F1): a record is stale below the floor,
	 * the epoch of the last change of owner */
	floor = floor_of(f, DATAPLANE_CMS, f->cms_epoch);
	if ((f->cms_epoch > dp->cms_epoch || floor > dp->cms_floor) &&
	    store_set_epoch(&dp->store, DATAPLANE_CMS, f->cms_epoch, floor,
			    epoch_set, dp) == 0) {
		dp->cms_epoch = f->cms_epoch;
		dp->cms_floor = floor;
	}
	for (unsigned i = 0; i < f->n_pools; i++) {
		const struct fsm_pool *p = &f->pools[i];
		unsigned k;

		for (k = 0; k < dp->n_epochs; k++)
			if (strcmp(dp->epochs[k].pool, p->name) == 0)
				break;
		if (k == dp->n_epochs) {
			if (dp->n_epochs == FSM_MAX_POOLS)
				continue;
			snprintf(dp->epochs[k].pool, sizeof dp->epochs[k].pool,
				 "%s", p->name);
			dp->epochs[k].epoch = 0;
			dp->epochs[k].floor = 0;
			dp->n_epochs++;
		}
		floor = floor_of(f, p->name, p->epoch);
		if (p->epoch <= dp->epochs[k].epoch &&
		    floor <= dp->epochs[k].floor)
			continue;
		if (store_set_epoch(&dp->store, p->name, p->epoch, floor,
				    epoch_set, dp) == 0) {
			dp->epochs[k].epoch = p->epoch;
			dp->epochs[k].floor = floor;
		}
	}
	/* what the receivers take: nothing above the committed epochs */
	if (dp->receiver != NULL)
		dataplane_receiver_epochs(dp, dp->receiver);
	if (dp->local != NULL && dp->local->rx != NULL)
		dataplane_receiver_epochs(dp, dp->local->rx);
}

/* ---- writes ---- */

void dataplane_written(struct dataplane *dp)
{
	if (dp->sender != NULL)
		sender_notify(dp->sender);
	dataplane_local_notify(dp);
}

void dataplane_write_done(struct dataplane *dp, const char *user_set,
			  int status, const struct store_write_result *r)
{
	if (status != 0) {
		dp->writes_refused++;
		return;
	}
	dp->writes_ok++;
	dataplane_note_write(dp, user_set, r->lane, r->seq, r->bytes);
	/* durable now: the pair's acknowledgement is timed from here */
	if (dp->sender != NULL)
		sender_committed(dp->sender, user_set, r->lane, r->seq);
	dataplane_written(dp);
}

void dataplane_note_write(struct dataplane *dp, const char *user_set, int lane,
			  uint64_t seq, uint64_t bytes)
{
	unsigned i;

	if (lane < 0 || lane > 1)
		return;
	for (i = 0; i < dp->n_written; i++)
		if (strcmp(dp->written[i].user_set, user_set) == 0)
			break;
	if (i == dp->n_written) {
		if (i == FSM_MAX_POOLS)
			return;
		snprintf(dp->written[i].user_set,
			 sizeof dp->written[i].user_set, "%s", user_set);
		dp->written[i].seq[0] = dp->written[i].seq[1] = 0;
		memset(dp->written[i].tail, 0, sizeof dp->written[i].tail);
		dp->n_written++;
	}
	if (seq > dp->written[i].seq[lane])
		dp->written[i].seq[lane] = seq;
	lagtail_add(&dp->written[i].tail[lane], seq, bytes,
		    clock_wall_ms(dp->deps.clock));
	dataplane_local_written(dp, user_set, lane, seq, bytes);
}

bool dataplane_drained(struct dataplane *dp, const char *user_set)
{
	uint64_t written[2] = {0, 0};

	if (dp->sender == NULL)
		return false;
	for (unsigned i = 0; i < dp->n_written; i++)
		if (strcmp(dp->written[i].user_set, user_set) == 0) {
			written[0] = dp->written[i].seq[0];
			written[1] = dp->written[i].seq[1];
		}
	for (int lane = 0; lane < 2; lane++) {
		struct sender_stats st;
		uint64_t acked = 0;
		uint64_t head = written[lane];

		if (sender_stats_get(dp->sender, user_set, lane, &st) == 0 &&
		    st.head_seq > head)
			head = st.head_seq;
		if (sender_acked(dp->sender, user_set, lane, &acked) != 0)
			acked = 0;
		if (acked < head)
			return false;
		/* a seed of the pair's copy: nothing is acknowledged before
		 * its end, whatever the positions say */
		if (sender_stats_get(dp->sender, user_set, lane, &st) == 0) {
			dataplane_seed_unfinished(dp, &st);
			if (st.seeding)
				return false;
		}
	}
	return true;
}

/* ---- the may-write rules ---- */

int dataplane_writer(const struct dataplane *dp,
		     const struct fsm_member **writer)
{
	const struct fsm_pool *me =
	    dp->pool[0] != '\0' ? dataplane_me(dp) : NULL;
	const struct fsm_member *w;

	if (writer != NULL)
		*writer = NULL;
	if (me == NULL || me->writer == 0)
		return 0;
	if (me->writer == dp->deps.agent_id)
		return 1;
	w = fsm_member_find(dp->deps.fsm, me->writer);
	if (writer != NULL)
		*writer = w;
	return -1;
}

const char *dataplane_api_scheme(const struct dataplane *dp)
{
	return dp->deps.tls != NULL ? "https" : "http";
}

/* The writer rule of dataplane_may_write*(): 0 when this agent is its
 * pool's writer, else the refusal with why. */
static int writer_rule(const struct dataplane *dp, char *why, size_t len)
{
	const struct fsm_member *w;

	switch (dataplane_writer(dp, &w)) {
	case 1:
		return 0;
	case -1:
		snprintf(why, len, "standby of %s; the writer is %s", dp->pool,
			 w != NULL ? w->name : "an unknown member");
		return DATAPLANE_E_NOT_WRITER;
	default:
		snprintf(why, len,
			 "%s has no writer yet: the cluster's leader chooses "
			 "one among its alive agents",
			 dp->pool);
		return DATAPLANE_E_NOT_NOW;
	}
}

int dataplane_may_write_cms(struct dataplane *dp, char *why, size_t len)
{
	const struct fsm *f = dp->deps.fsm;
	const struct fsm_pool *p = fsm_pool_find(f, f->cms_active);
	int rv;

	if (lease_held(dp) && !view_current(dp)) {
		snprintf(why, len,
			 "catching up: this agent has not yet applied every "
			 "decision the cluster had committed (just restarted "
			 "or rejoined?)");
		return DATAPLANE_E_NOT_NOW;
	}
	if (p == NULL || strcmp(f->cms_active, dp->pool) != 0) {
		snprintf(why, len, "the active CMS is on %s",
			 f->cms_active[0] ? f->cms_active : "no pool");
		return DATAPLANE_E_NOT_OWNER;
	}
	rv = writer_rule(dp, why, len);
	if (rv != 0)
		return rv;
	if (dp->state != DP_OPEN) {
		snprintf(why, len, "the store is not open");
		return DATAPLANE_E_NOT_NOW;
	}
	if (p->state == FSM_STATE_FAILING_OVER) {
		snprintf(
		    why, len,
		    "%s is failing over: the CMS moves with it, writes are "
		    "stopped while it drains",
		    p->name);
		return DATAPLANE_E_NOT_NOW;
	}
	if (f->cms_state == FSM_STATE_FAILING_OVER) {
		snprintf(why, len,
			 "the CMS is moving from %s to %s: writes are stopped "
			 "while its documents drain",
			 p->name, p->pair);
		return DATAPLANE_E_NOT_NOW;
	}
	if (!lease_held(dp)) {
		snprintf(why, len,
			 "no lease: this agent has not heard from the "
			 "cluster's leader in time");
		return DATAPLANE_E_NOT_NOW;
	}
	return 0;
}

int dataplane_may_write(struct dataplane *dp, const struct fsm_pool *p,
			char *why, size_t len)
{
	int rv;

	if (lease_held(dp) && !view_current(dp)) {
		snprintf(why, len,
			 "catching up: this agent has not yet applied every "
			 "decision the cluster had committed (just restarted "
			 "or rejoined?)");
		return DATAPLANE_E_NOT_NOW;
	}
	if (strcmp(p->owner, dp->pool) != 0) {
		snprintf(why, len, "the user set of %s is owned by %s", p->name,
			 p->owner);
		return DATAPLANE_E_NOT_OWNER;
	}
	rv = writer_rule(dp, why, len);
	if (rv != 0)
		return rv;
	if (dp->state != DP_OPEN) {
		snprintf(why, len, "the store is not open");
		return DATAPLANE_E_NOT_NOW;
	}
	if (p->state == FSM_STATE_FAILING_OVER) {
		snprintf(why, len,
			 "%s is failing over: writes are stopped while its "
			 "changes drain to %s",
			 p->name, p->pair);
		return DATAPLANE_E_NOT_NOW;
	}
	if (p->state == FSM_STATE_FAILING_BACK) {
		snprintf(why, len,
			 "%s is failing back: writes are stopped while its "
			 "changes drain back",
			 p->name);
		return DATAPLANE_E_NOT_NOW;
	}
	if (!lease_held(dp)) {
		snprintf(
		    why, len,
		    "no lease: this agent has not heard from the "
		    "cluster's leader in time (cut off from the majority?)");
		return DATAPLANE_E_NOT_NOW;
	}
	return 0;
}

/* ---- closing ---- */

void dataplane_closed_one(struct dataplane *dp)
{
	dataplane_close_cb cb = dp->close_cb;

	if (--dp->closes > 0)
		return;
	dataplane_local_free(dp);
	dp->close_cb = NULL;
	if (cb != NULL)
		cb(dp);
}

static void store_closed_cb(struct store *s)
{
	struct dataplane *dp =
	    (struct dataplane *)((char *)s - offsetof(struct dataplane, store));

	dp->state = DP_CLOSED;
	dataplane_closed_one(dp);
}

void dataplane_store_close(struct dataplane *dp)
{
	store_close(&dp->store, store_closed_cb);
}

static void sync_timer_closed(uv_handle_t *h) { dataplane_closed_one(h->data); }

void dataplane_close(struct dataplane *dp, dataplane_close_cb cb)
{
	int was = dp->state;

	if (dp->close_asked)
		return;
	dp->close_asked = true;
	dp->close_cb = cb;
	dp->closes = 1; /* this call's own, dropped at the end */
	dataplane_lsync_release_all(dp);
	if (dp->sync_timer_open) {
		dp->sync_timer_open = false;
		dp->closes++;
		uv_close((uv_handle_t *)&dp->sync_timer, sync_timer_closed);
	}
	switch (was) {
	case DP_OPEN:
		dp->state = DP_CLOSING;
		dp->closes++; /* the store */
		dataplane_streams_stop(dp, DP_RELEASE_FAILED);
		dataplane_local_stop(dp);
		if (dp->stream_closes == 0)
			dataplane_store_close(dp);
		/* else the last stream closed closes it */
		break;
	case DP_OPENING:
		dp->state = DP_CLOSING;
		dp->closes++; /* opened() finishes the close */
		break;
	case DP_FAILED:
		dp->state = DP_CLOSED;
		break;
	default: /* DP_NONE: a witness holds nothing, and stays one */
		break;
	}
	dataplane_closed_one(dp);
}
