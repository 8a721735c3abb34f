/* members_fixture: see members_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "members_fixture.h"

/* ---- fakes ---- */



static uint64_t fake_wall_ms(void *data)
{
	(void)data;
	return 1700000000000ULL;
}

static uint64_t fake_mono_ns(void *data)
{
	return ((struct fake *)data)->now_ns;
}

static int fake_submit(void *impl, struct cmd_buf *cmd, proposer_cb cb,
		       void *arg)
{
	struct fake *f = impl;

	cmd_buf_free(cmd);
	f->submits++;
	f->submit_cb = cb;
	f->submit_arg = arg;
	return 0;
}

static int fake_barrier(void *impl, proposer_done_cb cb, void *arg)
{
	struct fake *f = impl;

	f->barriers++;
	f->barrier_cb = cb;
	f->barrier_arg = arg;
	return 0;
}

static bool fake_is_leader(void *impl) { return ((struct fake *)impl)->leader; }

static uint64_t fake_leader(void *impl, const char **api)
{
	struct fake *f = impl;

	if (api != NULL)
		*api = f->leader_api != NULL ? f->leader_api : "";
	return f->leader_id;
}

static uint64_t fake_term(void *impl) { return ((struct fake *)impl)->term; }

static uint64_t fake_commit(void *impl)
{
	return ((struct fake *)impl)->commit;
}

static uint64_t fake_applied(void *impl)
{
	return ((struct fake *)impl)->applied;
}

static void fake_strerror(void *impl, int rv, char *buf, size_t len)
{
	(void)impl;
	snprintf(buf, len, "error %d", rv);
}

static const struct proposer_ops fake_proposer_ops = {
    .submit = fake_submit,
    .barrier = fake_barrier,
    .is_leader = fake_is_leader,
    .leader = fake_leader,
    .term = fake_term,
    .commit_index = fake_commit,
    .applied_index = fake_applied,
    .strerror = fake_strerror,
};

static const struct raft_configuration *fake_configuration(void *impl)
{
	return &((struct fake *)impl)->conf;
}

static bool fake_changing(void *impl)
{
	return ((struct fake *)impl)->changing;
}

static uint64_t fake_last_index(void *impl)
{
	return ((struct fake *)impl)->last_index;
}

static int fake_match_index(void *impl, uint64_t id, uint64_t *index)
{
	struct fake *f = impl;

	for (unsigned i = 0; i < f->conf.n; i++)
		if (f->servers[i].id == id) {
			*index = f->match[i];
			return 0;
		}
	return -1;
}

static int fake_add(void *impl, uint64_t id, const char *address,
		    members_raft_cb cb, void *arg)
{
	(void)impl;
	(void)id;
	(void)address;
	(void)cb;
	(void)arg;
	return PROPOSER_E_BUSY;
}

static int fake_assign(void *impl, uint64_t id, int role, members_raft_cb cb,
		       void *arg)
{
	struct fake *f = impl;

	(void)cb;
	(void)arg;
	f->assigns++;
	f->assigned_id = id;
	f->assigned_role = role;
	return 0;
}

static int fake_remove(void *impl, uint64_t id, members_raft_cb cb, void *arg)
{
	(void)impl;
	(void)id;
	(void)cb;
	(void)arg;
	return PROPOSER_E_BUSY;
}

static void fake_mark(void *impl, uint64_t *committed, uint64_t *uncommitted)
{
	struct fake *f = impl;

	*committed = f->mark[0];
	*uncommitted = f->mark[1];
}

static void fake_set_election_timeout(void *impl, unsigned ms)
{
	struct fake *f = impl;

	f->election_timeout_ms = ms;
	f->election_timeout_sets++;
}

static const struct members_raft_ops fake_raft_ops = {
    .configuration = fake_configuration,
    .changing = fake_changing,
    .last_index = fake_last_index,
    .configuration_mark = fake_mark,
    .match_index = fake_match_index,
    .add = fake_add,
    .assign = fake_assign,
    .remove = fake_remove,
    .set_election_timeout = fake_set_election_timeout,
};

static unsigned fake_set_reports(void *impl, struct members_set_report *out,
				 unsigned max)
{
	struct fake *f = impl;
	unsigned n = f->n_sets < max ? f->n_sets : max;

	memcpy(out, f->sets, n * sizeof *out);
	return n;
}

static unsigned fake_stream_reports(void *impl,
				    struct members_stream_report *out,
				    unsigned max)
{
	struct fake *f = impl;
	unsigned n = f->n_streams < max ? f->n_streams : max;

	memcpy(out, f->streams, n * sizeof *out);
	return n;
}

static unsigned fake_seed_reports(void *impl, struct members_seed_report *out,
				  unsigned max)
{
	struct fake *f = impl;
	unsigned n = f->n_seeds < max ? f->n_seeds : max;

	memcpy(out, f->seeds, n * sizeof *out);
	return n;
}

static unsigned fake_copy_reports(void *impl, struct members_copy_report *out,
				  unsigned max)
{
	struct fake *f = impl;
	unsigned n = f->n_copies < max ? f->n_copies : max;

	memcpy(out, f->copies, n * sizeof *out);
	return n;
}

static unsigned fake_standby_reports(void *impl,
				     struct members_standby_report *out,
				     unsigned max)
{
	struct fake *f = impl;
	unsigned n = f->n_standbys < max ? f->n_standbys : max;

	memcpy(out, f->standbys, n * sizeof *out);
	return n;
}

static void fake_leader_tick(void *impl) { (void)impl; }

static int fake_may_write(void *impl, const struct fsm_pool *p, char *why,
			  size_t len)
{
	(void)p;
	snprintf(why, len, "no lease");
	return ((struct fake *)impl)->may_write;
}

static void fake_decided(void *impl, int status, const struct fsm_result *res)
{
	(void)status;
	(void)res;
	((struct fake *)impl)->decided++;
}

static const struct members_host_ops fake_host_ops = {
    .set_reports = fake_set_reports,
    .stream_reports = fake_stream_reports,
    .seed_reports = fake_seed_reports,
    .copy_reports = fake_copy_reports,
    .standby_reports = fake_standby_reports,
    .leader_tick = fake_leader_tick,
    .may_write = fake_may_write,
    .decided = fake_decided,
};



void add_server(struct fixture *x, uint64_t id, int role)
{
	struct fake *f = &x->f;

	f->servers[f->conf.n].id = id;
	f->servers[f->conf.n].address = "127.0.0.1:1";
	f->servers[f->conf.n].role = role;
	f->conf.n++;
}

/* Registered in the applied state, at site. */
void add_member(struct fixture *x, uint64_t id, const char *site)
{
	struct fsm_member *fm = &x->fsm.members[x->fsm.n_members++];

	memset(fm, 0, sizeof *fm);
	fm->id = id;
	snprintf(fm->name, sizeof fm->name, "m%llu", (unsigned long long)id);
	snprintf(fm->site, sizeof fm->site, "%s", site);
}

int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof *x);
	struct members_deps d;

	assert_non_null(x);
	assert_int_equal(uv_loop_init(&x->loop), 0);
	fsm_init(&x->fsm);
	x->f.now_ns = 100000 * MS;
	x->f.term = 3;
	x->f.conf.servers = x->f.servers;
	x->clock = (struct clock){fake_wall_ms, fake_mono_ns, &x->f};
	x->proposer = (struct proposer){&fake_proposer_ops, &x->f};
	x->raft = (struct members_raft){&fake_raft_ops, &x->f};
	x->host = (struct members_host){&fake_host_ops, &x->f};
	memset(&d, 0, sizeof d);
	d.loop = &x->loop;
	d.fsm = &x->fsm;
	d.proposer = &x->proposer;
	d.raft = &x->raft;
	d.calls = NULL; /* nothing here sends */
	d.clock = &x->clock;
	d.host = &x->host;
	d.cfg.self.id = SELF;
	snprintf(d.cfg.self.name, sizeof d.cfg.self.name, "self");
	snprintf(d.cfg.self.site, sizeof d.cfg.self.site, "a");
	d.cfg.heartbeat_ms = 100;
	d.cfg.lease_ms = LEASE;
	d.cfg.grace_ms = 500;
	d.cfg.drift_margin_ms = DRIFT;
	d.cfg.election_timeout_ms = 500;
	d.cfg.max_voters = 3;
	assert_int_equal(members_init(&x->m, &d), 0);
	assert_int_equal(x->m.state, MEMBERS_READY);
	*state = x;
	return 0;
}

static void closed(struct members *m)
{
	struct fixture *x =
	    (struct fixture *)((char *)m - offsetof(struct fixture, m));

	x->closed++;
}

int teardown(void **state)
{
	struct fixture *x = *state;

	members_close(&x->m, closed);
	members_close(&x->m, closed); /* ignored */
	assert_int_equal(uv_run(&x->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(x->closed, 1);
	assert_int_equal(x->m.state, MEMBERS_CLOSED);
	assert_int_equal(uv_loop_close(&x->loop), 0);
	free(x);
	return 0;
}

void at_ms(struct fixture *x, uint64_t ms) { x->f.now_ns = ms * MS; }

void answered(struct fixture *x, const char *body)
{
	members_heartbeat_answered(&x->m, x->sent_ns, body, strlen(body));
}
