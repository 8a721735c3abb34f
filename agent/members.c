/* members: the module's life, its tick, and where the leader is (see
 * members.h). */
#include "agent/members.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "agent/hclient.h"
#include "agent/log.h"
#include "agent/members_internal.h"

#define MOD "members"

int members_init(struct members *m, const struct members_deps *deps)
{
	int rv;

	memset(m, 0, sizeof *m);
	m->d = *deps;
	lease_contacts_init(&m->contacts, clock_mono_ns(deps->clock));
	m->reg_state = REG_UNREGISTERED;
	m->join_state = JOIN_NONE;
	m->join_backoff_ms = 250;
	rv = uv_timer_init(deps->loop, &m->tick);
	if (rv != 0)
		return rv;
	m->tick.data = m;
	m->state = MEMBERS_READY;
	return 0;
}

/* ---- where the leader's API is ---- */

int members_leader_target(struct members *m, char *host, uint16_t *port)
{
	const char *api = "";
	uint64_t leader = proposer_leader(m->d.proposer, &api);
	char url[FSM_ADDR_LEN + 16];

	if (leader != 0 && api != NULL && api[0] != '\0') {
		snprintf(url, sizeof url, "http://%s/", api);
		return hclient_parse_url(url, host, HCLIENT_HOST_MAX, port,
					 NULL, 0) == 0
			   ? 0
			   : -1;
	}
	if (m->hint_host[0] != '\0') {
		snprintf(host, HCLIENT_HOST_MAX, "%s", m->hint_host);
		*port = m->hint_port;
		return 0;
	}
	if (m->d.cfg.join[0] != '\0')
		return hclient_parse_url(m->d.cfg.join, host, HCLIENT_HOST_MAX,
					 port, NULL, 0) == 0
			   ? 0
			   : -1;
	return -1;
}

void members_learn_hint(struct members *m, int err,
			const struct hclient_response *resp)
{
	char host[HCLIENT_HOST_MAX];
	uint16_t port;

	if (err == 0 && resp->status == 307 && resp->location != NULL &&
	    hclient_parse_url(resp->location, host, sizeof host, &port, NULL,
			      0) == 0) {
		snprintf(m->hint_host, sizeof m->hint_host, "%s", host);
		m->hint_port = port;
	} else if (err != 0 || resp->status >= 300) {
		m->hint_host[0] = '\0';
	}
}

/* ---- reachability (the leader's view) ---- */

uint64_t members_reachable_window_ns(const struct members *m)
{
	return (uint64_t)(m->d.cfg.lease_ms + m->d.cfg.grace_ms) * MEMBERS_MS;
}

bool members_silent_for(struct members *m, uint64_t id, uint64_t window_ns)
{
	uint64_t now = members_now_ns(m);
	uint64_t since = members_regime_since_ns(m);
	const struct members_seen *s;

	if (id == m->d.cfg.self.id)
		return false;
	s = members_seen_get(m, id);
	if (s != NULL && s->last_ns >= since)
		return now - s->last_ns > window_ns;
	return now - since > window_ns;
}

int members_reachable(struct members *m, uint64_t id)
{
	if (!proposer_is_leader(m->d.proposer) || m->leader_since_ns == 0)
		return -1;
	return members_silent_for(m, id, members_reachable_window_ns(m)) ? 0
									  : 1;
}

/* ---- the tick ---- */

static void tick(uv_timer_t *t)
{
	struct members *m = t->data;

	if (members_closing(m))
		return;
	if (proposer_is_leader(m->d.proposer)) {
		if (m->leader_since_ns == 0) {
			m->leader_since_ns = members_now_ns(m);
			LOG_INFO(MOD, "leading term %" PRIu64,
				 proposer_term(m->d.proposer));
		}
		members_regime_tick(m, true);
		members_lease_tick(m, true);
		members_leader_report_tick(m);
		m->d.host->ops->leader_tick(m->d.host->impl);
		members_register_tick(m);
		members_place_tick(m);
		members_eto_tick(m);
	} else {
		m->leader_since_ns = 0;
		members_regime_tick(m, false);
		members_lease_tick(m, false);
		members_join_tick(m);
		members_register_tick(m);
		members_heartbeat_tick(m);
		members_eto_tick(m);
	}
}

int members_start(struct members *m, bool join_cluster)
{
	int rv;

	if (join_cluster) {
		m->join_state = JOIN_WAITING;
		m->join_next_ns = 0;
	}
	rv = uv_timer_start(&m->tick, tick, 0, m->d.cfg.heartbeat_ms);
	if (rv == 0)
		m->state = MEMBERS_RUNNING;
	return rv;
}

static void tick_closed(uv_handle_t *h)
{
	struct members *m = h->data;

	m->state = MEMBERS_CLOSED;
	if (m->close_cb != NULL)
		m->close_cb(m);
}

void members_close(struct members *m, void (*cb)(struct members *m))
{
	if (m->state != MEMBERS_READY && m->state != MEMBERS_RUNNING)
		return;
	m->state = MEMBERS_CLOSING;
	m->close_cb = cb;
	for (unsigned i = 0; i < MEMBERS_HB_INFLIGHT; i++)
		if (m->hb[i].busy && m->hb[i].req != NULL)
			hclient_cancel(m->hb[i].req);
	if (m->reg_req != NULL)
		hclient_cancel(m->reg_req);
	if (m->join_req != NULL)
		hclient_cancel(m->join_req);
	m->reg_req = m->join_req = NULL;
	uv_close((uv_handle_t *)&m->tick, tick_closed);
}
