/* dataplane: the pool agent's store and clock (see dataplane.h). */
#include "agent/dataplane.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/log.h"

#define MOD "data"

static void store_closed_cb(struct store *s);

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
		dp->agent->pending_closes--;
		agent_closed_one(dp->agent);
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

int dataplane_init(struct dataplane *dp, struct agent *a)
{
	char path[4200];
	int rv;

	memset(dp, 0, sizeof *dp);
	dp->agent = a;
	hlc_init(&dp->hlc, 0);
	if (a->cfg.pool[0] == '\0') {
		dp->state = DP_NONE;
		return 0;
	}
	snprintf(path, sizeof path, "%s/store.db", a->cfg.data_dir);
	dp->state = DP_OPENING;
	rv = store_open_async(&dp->store, a->loop, path, NULL, opened);
	if (rv != 0) {
		snprintf(dp->errmsg, sizeof dp->errmsg, "store %s: %s", path,
			 store_strerror(rv));
		dp->state = DP_FAILED;
		return rv;
	}
	return 0;
}

bool dataplane_ready(const struct dataplane *dp)
{
	return dp->state == DP_OPEN;
}

uint64_t dataplane_hlc(struct dataplane *dp)
{
	return hlc_now(&dp->hlc, agent_now_ms());
}

static void epoch_set(void *arg, int status, const char *errmsg)
{
	if (status != 0)
		LOG_WARN(MOD, "epoch: %s", errmsg);
	(void)arg;
}

void dataplane_on_applied(struct dataplane *dp)
{
	const struct fsm *f = &dp->agent->fsm;

	if (dp->state != DP_OPEN)
		return;
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
			dp->n_epochs++;
		}
		if (p->epoch <= dp->epochs[k].epoch)
			continue;
		if (store_set_epoch(&dp->store, p->name, p->epoch, epoch_set,
				    dp) == 0)
			dp->epochs[k].epoch = p->epoch;
	}
}

static void store_closed_cb(struct store *s)
{
	struct dataplane *dp =
	    (struct dataplane *)((char *)s - offsetof(struct dataplane, store));

	dp->state = DP_CLOSED;
	dp->agent->pending_closes--;
	agent_closed_one(dp->agent);
}

void dataplane_close(struct dataplane *dp)
{
	int was = dp->state;

	if (dp->agent == NULL || was == DP_NONE || was == DP_FAILED ||
	    was == DP_CLOSING || was == DP_CLOSED)
		return;
	dp->state = DP_CLOSING;
	dp->agent->pending_closes++;
	if (was == DP_OPEN)
		store_close(&dp->store, store_closed_cb);
	/* DP_OPENING: opened() finishes the close */
}
