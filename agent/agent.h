/* agent: one poolpaird process. Owns the parts of the process (the TLS
 * context, the HTTP client, the Raft node and its FSM, the modules, the
 * API server, the signals) and wires them: agent_init() makes them in
 * order and builds each module's dependencies (agent_bind*.c), agent_stop()
 * closes them in reverse order and counts what is still closing. No module
 * includes this header: main() only loads the config and runs the loop.
 *
 * Loop thread only. */
#ifndef POOLPAIR_AGENT_H
#define POOLPAIR_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent/api.h"
#include "agent/clock.h"
#include "agent/cms_move.h"
#include "agent/backup.h"
#include "agent/config.h"
#include "agent/rebuild.h"
#include "agent/content.h"
#include "agent/dataplane.h"
#include "agent/failover.h"
#include "agent/hclient.h"
#include "agent/lsync_client.h"
#include "agent/http.h"
#include "agent/members.h"
#include "agent/metrics.h"
#include "agent/policy.h"
#include "agent/proposer.h"
#include "agent/recover.h"
#include "agent/rejoin.h"
#include "agent/risk.h"
#include "agent/route.h"
#include "agent/verify.h"
#include "agent/view.h"
#include "agent/users.h"
#include "agent/writer.h"
#include "consensus/fsm.h"
#include "consensus/node.h"
#include "tls/tls.h"

enum agent_state {
	AGENT_INIT,
	AGENT_RUNNING,
	AGENT_STOPPING, /* transferring leadership */
	AGENT_CLOSING,  /* closing handles */
	AGENT_CLOSED,
};

struct agent {
	uv_loop_t *loop;        /* borrowed */
	const struct clock *clock; /* borrowed: clock_system(); what modules
				      read the time from */
	struct config cfg;      /* copied */
	struct fsm fsm;
	struct node node;
	struct proposer proposer; /* over node: what modules propose through */
	struct http_server api;
	struct router router;   /* of the API: the table of routes.c */
	struct api apis;	/* the control-plane handlers of the API */
	struct members members;
	struct members_raft members_raft; /* members' view of the node */
	struct members_host members_host; /* what members asks of the agent */
	struct dataplane data;   /* pool agents: the store */
	struct lsync_client lsync_client; /* the writer's pool_sync asks */
	struct users users;      /* the data-plane routes */
	struct content content;  /* the conference content routes */
	struct backup_cluster_src backup_src; /* status's backup section */
	struct failover failover; /* leader: failovers and failbacks */
	struct cms_move cms_move; /* leader: moves of the CMS alone */
	struct risk risk;       /* the data at risk of a move */
	struct rebuild rebuild; /* where a pool's rebuild from its pair stands */
	struct writer writer;   /* leader: each pool's writer */
	struct verify verify;     /* pool agents: verify and repair the backup */
	struct policy_watch policy; /* the config file's [failover] policy */
	struct metrics metrics;
	struct metrics_sources metrics_src; /* what the metrics read */
	struct view view;	/* the JSON renderings of the API */
	struct view_sources view_src; /* what the view reads of the modules */
	uv_signal_t sigterm;
	uv_signal_t sigint;
	uv_signal_t sighup;     /* reload the [tls] files */
	struct tls_ctx tls;     /* [tls]: shared by every link; tls_on */
	bool tls_on;
	struct hclient calls;   /* HTTP client of the calls to other agents:
				   their connections, kept alive */
	uv_timer_t watchdog;
	uv_timer_t stop_timer;  /* bounds the leadership transfer at stop */
	uint64_t watchdog_usec; /* 0: not under a systemd watchdog */
	int state;              /* enum agent_state */
	int pending_closes;     /* parts still closing (close_all() counts
				   them; no module touches it) */
	int exit_code;
	uint64_t started_ns;
	bool restart_requested;  /* re-exec after the loop ends (recovery) */
	struct recover recover; /* a lost majority: POST /v1/recover */
	struct recover_host recover_host; /* what recover asks of the agent */
	struct rejoin rejoin;   /* an empty Raft directory; a lost member */
	char errmsg[512];
};

/* Set everything up from a validated config: Raft node (bootstrapping on
 * first start), API listener, signals. Returns 0 or negative with
 * a->errmsg set; on error the loop must still be run until it ends so that
 * what was opened closes (agent_init closes it itself). */
int agent_init(struct agent *a, uv_loop_t *loop, const struct config *cfg);

/* Start serving: Raft, membership timers, notify READY=1. */
int agent_start(struct agent *a);

/* Start Raft and what runs on it (membership, failover, the CMS, the
 * policy): from agent_start(), or once rejoin decided (join: ask to be
 * added). Returns 0 or negative with a->errmsg set. */
int agent_start_raft(struct agent *a, bool join);

/* Begin a clean shutdown: transfer leadership when leading, close every
 * handle; the loop ends when everything is closed. Idempotent. */
void agent_stop(struct agent *a);

/* After a failed agent_init() or agent_start(): close whatever was opened;
 * run the loop until it ends. */
void agent_abort(struct agent *a);

#endif
