/* node: Raft server driving the FSM (see node.h). */
#include "consensus/node.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

enum node_state {
	NODE_NONE,    /* nothing to close */
	NODE_INIT,    /* raft initialised, not started */
	NODE_RUNNING,
	NODE_CLOSING,
	NODE_CLOSED,
};

struct node_apply_req {
	struct raft_apply req;
	struct node *node;
	node_apply_cb cb;
	void *arg;
};

struct node_change_req {
	struct raft_change req;
	node_change_cb cb;
	void *arg;
};

struct node_barrier_req {
	struct raft_barrier req;
	node_change_cb cb;
	void *arg;
};

struct node_transfer_req {
	struct raft_transfer req;
	node_change_cb cb;
	void *arg;
};

int node_raft_err(int raft_rv)
{
	return raft_rv == 0 ? 0 : -5700 - raft_rv;
}

const char *node_strerror(int rv)
{
	switch (rv) {
	case 0:
		return "ok";
	case NODE_E_NOT_LEADER:
		return "not the leader";
	case NODE_E_UNKNOWN:
		return "leadership lost: outcome unknown";
	case NODE_E_CLOSING:
		return "shutting down";
	case NODE_E_BUSY:
		return "a configuration change is already in progress";
	default:
		break;
	}
	if (rv <= -5701 && rv > -5800)
		return raft_strerror(-rv - 5700);
	if (rv < 0)
		return uv_strerror(rv);
	return "unknown error";
}

/* ---- FSM glue ---- */

/* The apply result travels as a value (followers drop it): the history
 * sequence of the decision, shifted, with the code in the low byte. The
 * reason is read back from the FSM's history. */
static void *result_pack(const struct fsm_result *res)
{
	return (void *)(uintptr_t)((res->seq << 8) | (uint64_t)(res->code & 0xff));
}

static void result_unpack(const struct fsm *f, void *value,
			  struct fsm_result *res)
{
	uintptr_t v = (uintptr_t)value;
	const struct fsm_history *h;

	memset(res, 0, sizeof *res);
	res->code = (int)(v & 0xff);
	res->seq = (uint64_t)(v >> 8);
	h = fsm_history_get(f, res->seq);
	if (h != NULL && h->code == res->code)
		snprintf(res->reason, sizeof res->reason, "%s", h->reason);
}

/* Log entries: raft_uv wants entry lengths that are multiples of 8, so a
 * command travels as an 8-byte header (little-endian u32 length of the
 * protobuf, u32 zero) followed by the protobuf and zero padding. */
#define ENTRY_HEADER 8

static size_t entry_size(size_t len)
{
	return (ENTRY_HEADER + len + 7) & ~(size_t)7;
}

static void entry_encode(void *dst, const void *cmd, size_t len)
{
	uint8_t *p = dst;
	size_t total = entry_size(len);

	memset(p, 0, total);
	p[0] = (uint8_t)(len & 0xff);
	p[1] = (uint8_t)((len >> 8) & 0xff);
	p[2] = (uint8_t)((len >> 16) & 0xff);
	p[3] = (uint8_t)((len >> 24) & 0xff);
	memcpy(p + ENTRY_HEADER, cmd, len);
}

/* The protobuf inside an entry; a malformed entry yields an empty command
 * (which the FSM records as malformed). */
static void entry_decode(const struct raft_buffer *buf, const void **cmd,
			 size_t *len)
{
	const uint8_t *p = buf->base;
	size_t n;

	*cmd = NULL;
	*len = 0;
	if (buf->len < ENTRY_HEADER)
		return;
	n = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 |
	    (size_t)p[3] << 24;
	if (n > buf->len - ENTRY_HEADER)
		return;
	*cmd = p + ENTRY_HEADER;
	*len = n;
}

/* ---- snapshot schedule ---- */

unsigned node_snapshot_due(uint64_t id, unsigned period, uint64_t at)
{
	uint64_t phase, lo, due;

	if (period < 2 * NODE_SNAPSHOT_PHASES)
		return period;
	phase = (id % NODE_SNAPSHOT_PHASES) * (period / NODE_SNAPSHOT_PHASES);
	lo = at + period / 2 + 1;
	if (lo < at)
		return period; /* at near UINT64_MAX */
	due = lo - lo % period + phase;
	if (due < lo)
		due += period;
	if (due - at > UINT_MAX)
		return period;
	return (unsigned)(due - at);
}

/* Entries a leader adds to its snapshot threshold: 0 when that would not
 * fit an unsigned. */
static unsigned leader_extra(const struct node *n, unsigned threshold)
{
	uint64_t extra = (uint64_t)(NODE_LEADER_SNAPSHOT_PERIODS - 1) *
			 n->cfg.snapshot_threshold;

	if (extra > UINT_MAX - threshold)
		return 0;
	return (unsigned)extra;
}

static void snapshot_arm(struct node *n, unsigned threshold, unsigned extra)
{
	n->snap_threshold = threshold;
	n->snap_extra = extra;
	raft_set_snapshot_threshold(&n->raft, threshold + extra);
}

/* Arms libraft's threshold for this server's next snapshot after index at
 * (libraft counts from its last snapshot, taken or loaded, at at). */
static void snapshot_schedule(struct node *n, uint64_t at)
{
	unsigned due;

	if (n->cfg.snapshot_threshold == 0)
		return;
	due = node_snapshot_due(n->cfg.id, n->cfg.snapshot_threshold, at);
	snapshot_arm(n, due, n->snap_leading ? leader_extra(n, due) : 0);
}

/* The leader takes its snapshot NODE_LEADER_SNAPSHOT_PERIODS periods
 * after its last, on its phase still; a follower one period after. Moves
 * the armed threshold by the difference when this server starts or stops
 * leading (libraft's count, from its last snapshot, is unchanged). */
static void snapshot_leading(struct node *n, bool leading)
{
	if (n->cfg.snapshot_threshold == 0 || leading == n->snap_leading)
		return;
	n->snap_leading = leading;
	snapshot_arm(n, n->snap_threshold,
		     leading ? leader_extra(n, n->snap_threshold) : 0);
}

static int fsm_apply_cb(struct raft_fsm *rf, const struct raft_buffer *buf,
			void **result)
{
	struct node *n = rf->data;
	struct fsm_result res;
	const void *cmd;
	size_t len;

	snapshot_leading(n, raft_state(&n->raft) == RAFT_LEADER);
	entry_decode(buf, &cmd, &len);
	fsm_apply(n->fsm, cmd, len, &res);
	*result = result_pack(&res);
	n->applied_total++;
	if (n->on_applied != NULL)
		n->on_applied(n->on_applied_arg);
	return 0;
}

static int fsm_snapshot_cb(struct raft_fsm *rf, struct raft_buffer *bufs[],
			   unsigned *n_bufs)
{
	struct node *n = rf->data;
	void *data;
	size_t len;
	struct raft_buffer *b;

	if (fsm_snapshot(n->fsm, &data, &len) != 0)
		return RAFT_NOMEM;
	b = raft_malloc(sizeof *b);
	if (b == NULL) {
		free(data);
		return RAFT_NOMEM;
	}
	b->len = len;
	b->base = raft_malloc(len > 0 ? len : 1);
	if (b->base == NULL) {
		free(data);
		raft_free(b);
		return RAFT_NOMEM;
	}
	memcpy(b->base, data, len);
	free(data);
	*bufs = b;
	*n_bufs = 1;
	n->snapshots_taken++;
	/* libraft takes a snapshot of everything applied, which is
	 * everything committed (raft_last_applied() == commit index) */
	n->snapshot_index = raft_last_applied(&n->raft);
	snapshot_schedule(n, n->snapshot_index);
	return 0;
}

static int fsm_restore_cb(struct raft_fsm *rf, struct raft_buffer *buf)
{
	struct node *n = rf->data;

	if (fsm_restore(n->fsm, buf->base, buf->len) != 0)
		return RAFT_CORRUPT;
	raft_free(buf->base); /* on success the FSM owns it */
	n->snapshots_restored++;
	if (n->on_applied != NULL)
		n->on_applied(n->on_applied_arg);
	return 0;
}

/* ---- life cycle ---- */

static int mkdir_p(const char *path)
{
	char tmp[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof tmp)
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int bootstrap(struct node *n)
{
	struct raft_configuration conf;
	unsigned voters = 0;
	int rv;

	raft_configuration_init(&conf);
	for (unsigned i = 0; i < n->cfg.n_bootstrap; i++) {
		const struct node_peer *p = &n->cfg.bootstrap[i];
		int role = RAFT_STANDBY;

		if (voters < n->cfg.max_voters) {
			role = RAFT_VOTER;
			voters++;
		}
		rv = raft_configuration_add(&conf, p->id, p->address, role);
		if (rv != 0) {
			snprintf(n->errmsg, sizeof n->errmsg,
				 "bootstrap: server %llu %s: %s",
				 (unsigned long long)p->id, p->address,
				 raft_strerror(rv));
			raft_configuration_close(&conf);
			return node_raft_err(rv);
		}
	}
	rv = raft_bootstrap(&n->raft, &conf);
	raft_configuration_close(&conf);
	if (rv == RAFT_CANTBOOTSTRAP)
		return 0; /* already initialised: recover from disk */
	if (rv != 0) {
		snprintf(n->errmsg, sizeof n->errmsg, "bootstrap: %s",
			 raft_errmsg(&n->raft));
		return node_raft_err(rv);
	}
	return 0;
}

static void transport_close(struct node *n)
{
	if (n->cfg.tls.ctx != NULL)
		transport_tls_close(&n->transport);
	else
		raft_uv_tcp_close(&n->transport);
}

unsigned node_tls_links(struct node *n)
{
	if (n->cfg.tls.ctx == NULL)
		return 0;
	return transport_tls_links(&n->transport);
}

/* raft_uv's recv, wrapped: a leader's message is reported first. */
static void io_recv(struct raft_io *io, struct raft_message *msg)
{
	struct node *n = (struct node *)((char *)io - offsetof(struct node, io));

	if (n->on_contact != NULL && msg->type == RAFT_APPEND_ENTRIES)
		n->on_contact(n->on_contact_arg, msg->append_entries.term);
	else if (n->on_contact != NULL && msg->type == RAFT_INSTALL_SNAPSHOT)
		n->on_contact(n->on_contact_arg, msg->install_snapshot.term);
	n->io_recv(io, msg);
}

static int io_start(struct raft_io *io, unsigned msecs, raft_io_tick_cb tick,
		    raft_io_recv_cb recv)
{
	struct node *n = (struct node *)((char *)io - offsetof(struct node, io));

	n->io_recv = recv;
	return n->io_start(io, msecs, tick, io_recv);
}

int node_init(struct node *n, uv_loop_t *loop, const struct node_config *cfg,
	      struct fsm *fsm)
{
	int rv;

	memset(n, 0, sizeof *n);
	n->loop = loop;
	n->fsm = fsm;
	n->cfg = *cfg;
	if (n->cfg.max_voters == 0)
		n->cfg.max_voters = 5;

	rv = mkdir_p(cfg->dir);
	if (rv != 0) {
		snprintf(n->errmsg, sizeof n->errmsg, "mkdir %s: %s", cfg->dir,
			 strerror(-rv));
		return rv;
	}

	n->transport.version = 1;
	n->transport.data = n;
	if (cfg->tls.ctx != NULL)
		rv = transport_tls_init(&n->transport, loop, &cfg->tls);
	else
		rv = raft_uv_tcp_init(&n->transport, loop);
	if (rv != 0) {
		snprintf(n->errmsg, sizeof n->errmsg, "transport: %s",
			 raft_strerror(rv));
		return node_raft_err(rv);
	}
	rv = raft_uv_init(&n->io, loop, n->cfg.dir, &n->transport);
	if (rv != 0) {
		snprintf(n->errmsg, sizeof n->errmsg, "io %s: %s", n->cfg.dir,
			 n->io.errmsg);
		goto err_after_transport;
	}
	/* raft_uv hands every message to the recv given to start(), with
	 * this io: wrap it to see the leaders' messages (node_set_contact_cb) */
	n->io_start = n->io.start;
	n->io.start = io_start;

	n->raft_fsm.version = 2;
	n->raft_fsm.data = n;
	n->raft_fsm.apply = fsm_apply_cb;
	n->raft_fsm.snapshot = fsm_snapshot_cb;
	n->raft_fsm.restore = fsm_restore_cb;
	n->raft_fsm.snapshot_finalize = NULL;

	rv = raft_init(&n->raft, &n->io, &n->raft_fsm, cfg->id, cfg->address);
	if (rv != 0) {
		snprintf(n->errmsg, sizeof n->errmsg, "raft: %s",
			 raft_errmsg(&n->raft));
		goto err_after_io;
	}
	n->raft.data = n;
	raft_set_pre_vote(&n->raft, true);
	if (cfg->election_timeout_ms > 0)
		raft_set_election_timeout(&n->raft, cfg->election_timeout_ms);
	if (cfg->heartbeat_timeout_ms > 0)
		raft_set_heartbeat_timeout(&n->raft, cfg->heartbeat_timeout_ms);
	if (cfg->snapshot_threshold > 0) /* until node_start() knows more */
		snapshot_arm(n, cfg->snapshot_threshold, 0);
	if (cfg->snapshot_trailing > 0)
		raft_set_snapshot_trailing(&n->raft, cfg->snapshot_trailing);

	if (cfg->n_recover > 0) {
		struct raft_configuration conf;

		raft_configuration_init(&conf);
		for (unsigned i = 0; i < cfg->n_recover; i++) {
			rv = raft_configuration_add(&conf, cfg->recover[i].id,
						    cfg->recover[i].address,
						    RAFT_VOTER);
			if (rv != 0)
				break;
		}
		if (rv == 0)
			rv = raft_recover(&n->raft, &conf);
		raft_configuration_close(&conf);
		if (rv != 0) {
			snprintf(n->errmsg, sizeof n->errmsg, "recover: %s",
				 raft_errmsg(&n->raft)[0] ? raft_errmsg(&n->raft)
							  : raft_strerror(rv));
			n->state = NODE_INIT;
			return node_raft_err(rv);
		}
	} else if (cfg->n_bootstrap > 0 && !cfg->bootstrap_later) {
		rv = bootstrap(n);
		if (rv != 0) {
			/* raft_init succeeded: closing is asynchronous. The
			 * caller runs the loop through node_close(). */
			n->state = NODE_INIT;
			return rv;
		}
	}
	n->state = NODE_INIT;
	return 0;

err_after_io:
	raft_uv_close(&n->io);
err_after_transport:
	transport_close(n);
	return rv > 0 ? node_raft_err(rv) : rv;
}

int node_bootstrap(struct node *n)
{
	if (n->state != NODE_INIT || n->cfg.n_bootstrap == 0) {
		snprintf(n->errmsg, sizeof n->errmsg,
			 "bootstrap: no list, or raft already started");
		return NODE_E_CLOSING;
	}
	return bootstrap(n);
}

int node_start(struct node *n)
{
	int rv = raft_start(&n->raft);

	if (rv != 0) {
		const char *why = raft_errmsg(&n->raft);

		if (why == NULL || why[0] == '\0')
			why = n->io.errmsg;
		if (why == NULL || why[0] == '\0')
			why = raft_strerror(rv);
		snprintf(n->errmsg, sizeof n->errmsg, "start: %s (listen %s)",
			 why, n->cfg.address);
		return node_raft_err(rv);
	}
	/* libraft counts the entries from its last snapshot, loaded by
	 * raft_start(): one this server took on its phase keeps the next a
	 * period later, on the phase again (one installed by a leader, or
	 * taken with another period, moves it until the next is taken here);
	 * without one it counts from 0. */
	if (n->cfg.snapshot_threshold > 0 && n->snapshots_restored == 0)
		snapshot_schedule(n, 0);
	n->state = NODE_RUNNING;
	return 0;
}

void node_set_contact_cb(struct node *n, void (*cb)(void *arg, uint64_t term),
			 void *arg)
{
	n->on_contact = cb;
	n->on_contact_arg = arg;
}

void node_set_applied_cb(struct node *n, node_applied_cb cb, void *arg)
{
	n->on_applied = cb;
	n->on_applied_arg = arg;
}

static void raft_close_done(struct raft *r)
{
	struct node *n = r->data;

	raft_uv_close(&n->io);
	transport_close(n);
	n->state = NODE_CLOSED;
	if (n->close_cb != NULL)
		n->close_cb(n);
}

void node_close(struct node *n, void (*cb)(struct node *n))
{
	n->close_cb = cb;
	if (n->state == NODE_CLOSING)
		return;
	if (n->state == NODE_NONE || n->state == NODE_CLOSED) {
		n->state = NODE_CLOSED;
		if (cb != NULL)
			cb(n);
		return;
	}
	n->state = NODE_CLOSING;
	raft_close(&n->raft, raft_close_done);
}

/* ---- requests ---- */

static void apply_done(struct raft_apply *req, int status, void *result)
{
	struct node_apply_req *r = req->data;
	struct node *n = r->node;
	struct fsm_result res;

	if (status == 0) {
		result_unpack(n->fsm, result, &res);
		r->cb(r->arg, 0, &res);
	} else if (status == RAFT_LEADERSHIPLOST || status == RAFT_NOTLEADER) {
		r->cb(r->arg, NODE_E_UNKNOWN, NULL);
	} else if (status == RAFT_SHUTDOWN) {
		r->cb(r->arg, NODE_E_CLOSING, NULL);
	} else {
		r->cb(r->arg, node_raft_err(status), NULL);
	}
	free(r);
}

int node_apply(struct node *n, void *buf, size_t len, node_apply_cb cb,
	       void *arg)
{
	struct node_apply_req *r;
	struct raft_buffer rb;
	int rv;

	if (n->state != NODE_RUNNING) {
		free(buf);
		return NODE_E_CLOSING;
	}
	if (raft_state(&n->raft) != RAFT_LEADER) {
		free(buf);
		return NODE_E_NOT_LEADER;
	}
	snapshot_leading(n, true);
	if (len > UINT32_MAX - 16) {
		free(buf);
		return -E2BIG;
	}
	r = calloc(1, sizeof *r);
	rb.len = entry_size(len);
	rb.base = raft_malloc(rb.len);
	if (r == NULL || rb.base == NULL) {
		free(r);
		raft_free(rb.base);
		free(buf);
		return -ENOMEM;
	}
	entry_encode(rb.base, buf, len);
	free(buf);
	r->node = n;
	r->cb = cb;
	r->arg = arg;
	r->req.data = r;
	rv = raft_apply(&n->raft, &r->req, &rb, 1, apply_done);
	if (rv != 0) {
		/* Refused before appending (not leader), the buffer is still
		 * ours; after appending, raft discards the entry and frees the
		 * buffer itself. */
		if (rv == RAFT_NOTLEADER)
			raft_free(rb.base);
		snprintf(n->errmsg, sizeof n->errmsg, "apply: %s",
			 raft_errmsg(&n->raft));
		free(r);
		return rv == RAFT_NOTLEADER ? NODE_E_NOT_LEADER
					    : node_raft_err(rv);
	}
	return 0;
}

static void barrier_done(struct raft_barrier *req, int status)
{
	struct node_barrier_req *r = req->data;

	r->cb(r->arg, status == 0 ? 0
		      : status == RAFT_LEADERSHIPLOST ? NODE_E_UNKNOWN
						      : node_raft_err(status));
	free(r);
}

int node_barrier(struct node *n, node_change_cb cb, void *arg)
{
	struct node_barrier_req *r;
	int rv;

	if (n->state != NODE_RUNNING)
		return NODE_E_CLOSING;
	if (raft_state(&n->raft) != RAFT_LEADER)
		return NODE_E_NOT_LEADER;
	snapshot_leading(n, true);
	r = calloc(1, sizeof *r);
	if (r == NULL)
		return -ENOMEM;
	r->cb = cb;
	r->arg = arg;
	r->req.data = r;
	rv = raft_barrier(&n->raft, &r->req, barrier_done);
	if (rv != 0) {
		free(r);
		return node_raft_err(rv);
	}
	return 0;
}

static void change_done(struct raft_change *req, int status)
{
	struct node_change_req *r = req->data;

	if (r->cb != NULL)
		r->cb(r->arg, status == 0 ? 0
			      : status == RAFT_LEADERSHIPLOST
				  ? NODE_E_UNKNOWN
				  : node_raft_err(status));
	free(r);
}

static struct node_change_req *change_prepare(struct node *n, int *rv,
					      node_change_cb cb, void *arg)
{
	struct node_change_req *r;

	if (n->state != NODE_RUNNING) {
		*rv = NODE_E_CLOSING;
		return NULL;
	}
	if (raft_state(&n->raft) != RAFT_LEADER) {
		*rv = NODE_E_NOT_LEADER;
		return NULL;
	}
	if (node_changing(n)) {
		*rv = NODE_E_BUSY;
		return NULL;
	}
	r = calloc(1, sizeof *r);
	if (r == NULL) {
		*rv = -ENOMEM;
		return NULL;
	}
	r->cb = cb;
	r->arg = arg;
	r->req.data = r;
	*rv = 0;
	return r;
}

static int change_submitted(struct node_change_req *r, int rv)
{
	if (rv != 0) {
		free(r);
		if (rv == RAFT_CANTCHANGE)
			return NODE_E_BUSY;
		if (rv == RAFT_NOTLEADER)
			return NODE_E_NOT_LEADER;
		return node_raft_err(rv);
	}
	return 0;
}

int node_add(struct node *n, uint64_t id, const char *address,
	     node_change_cb cb, void *arg)
{
	int rv;
	struct node_change_req *r = change_prepare(n, &rv, cb, arg);

	if (r == NULL)
		return rv;
	return change_submitted(
	    r, raft_add(&n->raft, &r->req, id, address, change_done));
}

int node_assign(struct node *n, uint64_t id, int role, node_change_cb cb,
		void *arg)
{
	int rv;
	struct node_change_req *r = change_prepare(n, &rv, cb, arg);

	if (r == NULL)
		return rv;
	return change_submitted(
	    r, raft_assign(&n->raft, &r->req, id, role, change_done));
}

int node_remove(struct node *n, uint64_t id, node_change_cb cb, void *arg)
{
	int rv;
	struct node_change_req *r = change_prepare(n, &rv, cb, arg);

	if (r == NULL)
		return rv;
	return change_submitted(r,
				raft_remove(&n->raft, &r->req, id, change_done));
}

static void transfer_done(struct raft_transfer *req)
{
	struct node_transfer_req *r = req->data;

	r->cb(r->arg, 0);
	free(r);
}

int node_transfer(struct node *n, uint64_t id, node_change_cb cb, void *arg)
{
	struct node_transfer_req *r;
	int rv;

	if (n->state != NODE_RUNNING)
		return NODE_E_CLOSING;
	if (raft_state(&n->raft) != RAFT_LEADER)
		return NODE_E_NOT_LEADER;
	r = calloc(1, sizeof *r);
	if (r == NULL)
		return -ENOMEM;
	r->cb = cb;
	r->arg = arg;
	r->req.data = r;
	rv = raft_transfer(&n->raft, &r->req, id, transfer_done);
	if (rv != 0) {
		free(r);
		return node_raft_err(rv);
	}
	return 0;
}

/* ---- views ---- */

bool node_snapshot_writing(struct node *n)
{
	return n->raft.legacy.snapshot_taking;
}

bool node_is_leader(struct node *n)
{
	return n->state == NODE_RUNNING && raft_state(&n->raft) == RAFT_LEADER;
}

uint64_t node_leader(struct node *n, const char **address)
{
	raft_id id = 0;
	const char *addr = NULL;

	if (n->state == NODE_RUNNING)
		raft_leader(&n->raft, &id, &addr);
	if (address != NULL)
		*address = addr;
	return id;
}

const char *node_state_name(struct node *n)
{
	if (n->state != NODE_RUNNING)
		return "unavailable";
	switch (raft_state(&n->raft)) {
	case RAFT_LEADER:
		return "leader";
	case RAFT_CANDIDATE:
		return "candidate";
	case RAFT_FOLLOWER:
		return "follower";
	default:
		return "unavailable";
	}
}

uint64_t node_term(struct node *n)
{
	return raft_current_term(&n->raft);
}

uint64_t node_commit_index(struct node *n)
{
	return raft_commit_index(&n->raft);
}

uint64_t node_applied_index(struct node *n)
{
	return raft_last_applied(&n->raft);
}

void node_set_election_timeout(struct node *n, unsigned ms)
{
	if (ms == 0 || ms == n->raft.election_timeout)
		return;
	raft_set_election_timeout(&n->raft, ms);
}

unsigned node_election_timeout(const struct node *n)
{
	return n->raft.election_timeout;
}

uint64_t node_last_index(struct node *n)
{
	return raft_last_index(&n->raft);
}

const struct raft_configuration *node_configuration(struct node *n)
{
	return &n->raft.configuration;
}

int node_role_of(struct node *n, uint64_t id)
{
	const struct raft_configuration *c = &n->raft.configuration;

	for (unsigned i = 0; i < c->n; i++)
		if (c->servers[i].id == id)
			return c->servers[i].role;
	return -1;
}

int node_match_index(struct node *n, uint64_t id, uint64_t *index)
{
	raft_index idx = 0;

	if (!node_is_leader(n))
		return -1;
	if (raft_match_index(&n->raft, id, &idx) != 0)
		return -1;
	*index = idx;
	return 0;
}

void node_configuration_mark(struct node *n, uint64_t *committed,
			     uint64_t *uncommitted)
{
	*committed = n->raft.configuration_committed_index;
	*uncommitted = n->raft.configuration_uncommitted_index;
}

bool node_changing(struct node *n)
{
	/* a server that learnt a change as a follower may keep its index
	 * after it committed: only an index above the commit index is a
	 * change still in flight. How it keeps it (libraft 0.22.1,
	 * replication.c, replicationAppend): a follower appending a batch
	 * whose configuration entry is not the first records the batch's
	 * first index (index, not index + i) as the uncommitted one, and
	 * applying the entry later never clears it, nor moves
	 * configuration_committed_index. Once such a server leads, raft
	 * refuses every add, assign and remove with RAFT_CANTCHANGE (here
	 * NODE_E_BUSY) although nothing is in flight, and barriers do not
	 * clear it; another leader does (rejoin.c hands the leadership over
	 * on that refusal). */
	return n->raft.configuration_uncommitted_index != 0 &&
	       n->raft.configuration_uncommitted_index >
		   raft_commit_index(&n->raft);
}
