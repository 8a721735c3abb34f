/* agent_bind_data: the bindings of the data side (see agent_internal.h):
 * who writes (the writer module's view of the agents, writer.h) and the
 * data plane with what rides on it (users, content, the local sync
 * client, the backup source). Only agent.c calls these, in the order of
 * agent_init(). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/agent_internal.h"
#include "agent/backup.h"

/* ---- the writers: what the leader knows of the agents (writer.h) ---- */

static uint64_t wr_silent_ms(void *impl, uint64_t id)
{
	struct agent *a = impl;
	uint64_t since = members_regime_since_ns(&a->members);
	uint64_t now = clock_mono_ns(a->clock);
	const struct members_seen *s;
	uint64_t last;

	if (id == a->cfg.agent_id)
		return 0;
	if (since == 0 || !proposer_is_leader(&a->proposer))
		return UINT64_MAX;
	s = members_seen_get(&a->members, id);
	last = s != NULL && s->last_ns >= since ? s->last_ns : since;
	return now > last ? (now - last) / 1000000ULL : 0;
}

static bool wr_head(void *impl, uint64_t id, const char *pool, uint64_t *head)
{
	struct agent *a = impl;
	struct members_stream_report own[MEMBERS_STREAMS];
	const struct members_stream_report *r;
	const struct members_seen *s;
	unsigned n;
	bool found = false;

	if (id == a->cfg.agent_id) {
		n = backup_stream_reports(&a->data, own, MEMBERS_STREAMS);
		r = own;
	} else {
		s = members_seen_get(&a->members, id);
		if (s == NULL)
			return false;
		n = s->n_streams;
		r = s->streams;
	}
	*head = 0;
	for (unsigned i = 0; i < n; i++)
		if (strcmp(r[i].user_set, pool) == 0 &&
		    strcmp(r[i].category, "user_data") == 0) {
			found = true;
			if (r[i].head_seq > *head)
				*head = r[i].head_seq;
		}
	return found;
}

static bool wr_may_decide(void *impl)
{
	struct agent *a = impl;

	return proposer_is_leader(&a->proposer) &&
	       a->members.leader_since_ns != 0 &&
	       members_lease_valid(&a->members) &&
	       members_view_current(&a->members);
}

/* A standby keeping a copy reports every (user set, lane) its copy holds
 * records of: a user set it reports nothing of while it reports others
 * has no record there yet, position 0. */
static bool wr_position(void *impl, uint64_t id, const char *user_set,
			int lane, uint64_t *seq)
{
	struct agent *a = impl;
	struct members_copy_report own[MEMBERS_COPIES];
	const struct members_seen *s;
	unsigned n;

	if (members_copy_position(&a->members, id, user_set, lane, seq))
		return true;
	if (id == a->cfg.agent_id) {
		n = dataplane_copy_reports(&a->data, own, MEMBERS_COPIES);
	} else {
		s = members_seen_get(&a->members, id);
		n = s != NULL ? s->n_copies : 0;
	}
	if (n == 0)
		return false;
	*seq = 0;
	return true;
}

static bool wr_moving(void *impl, const char *pool)
{
	struct agent *a = impl;

	return failover_moving(&a->failover, pool);
}

static const struct writer_members_ops writer_members_ops = {
    .silent_ms = wr_silent_ms,
    .head = wr_head,
    .may_decide = wr_may_decide,
    .position = wr_position,
    .moving = wr_moving,
};

void agent_bind_writer(struct agent *a)
{
	struct writer_deps d = {
	    .fsm = &a->fsm,
	    .proposer = &a->proposer,
	    .clock = a->clock,
	    .members = {&writer_members_ops, a},
	    .lease_ms = a->cfg.lease_ms,
	    .grace_ms = a->cfg.grace_ms,
	    .who = agent_who,
	};

	writer_init(&a->writer, &d);
}

/* ---- the data modules: their dependencies on the others ---- */

static bool data_lease_held(void *impl) { return members_lease_valid(impl); }

static bool data_view_current(void *impl) { return members_view_current(impl); }

static const struct dataplane_lease_ops data_lease_ops = {
    .held = data_lease_held,
    .view_current = data_view_current,
};

/* The stream reports last heard from member id (a standby trims its
 * outbox with its writer's acknowledgements from the pair). */
static unsigned data_peer_streams(void *impl, uint64_t id, uint64_t max_age_ms,
				  struct members_stream_report *out,
				  unsigned max)
{
	struct members *m = impl;
	const struct members_seen *s = members_seen_get(m, id);
	unsigned n;

	if (s == NULL || !members_heard(m, id, max_age_ms))
		return 0;
	n = s->n_streams < max ? s->n_streams : max;
	memcpy(out, s->streams, n * sizeof *out);
	return n;
}

static const struct dataplane_peers_ops data_peers_ops = {
    .streams = data_peer_streams,
};

static const struct members_seen *backup_seen(void *impl, uint64_t id)
{
	return members_seen_get(impl, id);
}

int agent_bind_data(struct agent *a)
{
	const struct config *cfg = &a->cfg;
	struct dataplane_deps dd = {
	    .loop = a->loop,
	    .fsm = &a->fsm,
	    .clock = a->clock,
	    .lease = {&data_lease_ops, &a->members},
	    .peers = {&data_peers_ops, &a->members},
	    .tls = agent_tls(a),
	    .tls_require = cfg->tls_require != 0,
	    .agent_id = cfg->agent_id,
	    .pool = cfg->pool,
	    .data_dir = cfg->data_dir,
	    .data_host = cfg->listen_data.host,
	    .data_port = cfg->listen_data.port,
	    .local_sync = cfg->local_sync != 0,
	    .local_sync_timeout_ms = cfg->local_sync_timeout_ms,
	    .store_reserve = cfg->store_reserve,
	    .store_reserve_percent = cfg->store_reserve_percent,
	    .drained = {agent_data_drained, a},
	};
	struct lsync_client_deps lcd = {
	    .calls = &a->calls,
	    .proposer = &a->proposer,
	};
	struct users_deps ud = {
	    .loop = a->loop,
	    .fsm = &a->fsm,
	    .proposer = &a->proposer,
	    .clock = a->clock,
	    .data = &a->data,
	    .pool = cfg->pool,
	};
	struct content_deps cd = {
	    .loop = a->loop,
	    .clock = a->clock,
	    .upload_timeout_ms = cfg->upload_timeout_ms,
	    .fsm = &a->fsm,
	    .proposer = &a->proposer,
	    .data = &a->data,
	    .pool = cfg->pool,
	};
	int rv;

	a->backup_src = (struct backup_cluster_src){
	    .fsm = &a->fsm,
	    .data = &a->data,
	    .seen = backup_seen,
	    .seen_impl = &a->members,
	    .self_id = cfg->agent_id,
	    .self_name = cfg->agent_name,
	    .stale_ms = (uint64_t)cfg->lease_ms + cfg->grace_ms,
	};
	lsync_client_init(&a->lsync_client, &lcd);
	lsync_client_ask(&a->lsync_client, &dd.ask);
	rv = dataplane_init(&a->data, &dd);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "%s", a->data.errmsg);
		return rv;
	}
	users_init(&a->users, &ud);
	rv = content_init(&a->content, &cd);
	if (rv != 0) {
		snprintf(a->errmsg, sizeof a->errmsg, "content: %s",
			 uv_strerror(rv));
		return rv;
	}
	return 0;
}
