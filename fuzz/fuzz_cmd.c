/* fuzz_cmd: encoded commands and the populated state of the fuzz targets. */
#include "fuzz/fuzz_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.pb-c.h"

/* protobuf-c takes char * for strings it only reads while packing. */
#define S(s) ((char *)(s))

static void *xmalloc(size_t n)
{
	void *p = malloc(n > 0 ? n : 1);

	if (p == NULL) {
		fputs("fuzz: out of memory\n", stderr);
		abort();
	}
	return p;
}

/* Pack c (stack storage, borrowed) after setting the common fields. */
static void *pack(Poolpair__Command *c, size_t *len)
{
	void *buf;

	c->time_ms = FUZZ_TIME_MS;
	c->who = S("operator@fuzz");
	*len = poolpair__command__get_packed_size(c);
	buf = xmalloc(*len);
	poolpair__command__pack(c, buf);
	return buf;
}

#define CMD(field, CASE, msg)                                                  \
	Poolpair__Command c = POOLPAIR__COMMAND__INIT;                         \
	c.op_case = POOLPAIR__COMMAND__OP_##CASE;                              \
	c.field = &(msg);                                                      \
	return pack(&c, len)

void *fuzz_cmd_add_site(const char *name, size_t *len)
{
	Poolpair__CmdAddSite m = POOLPAIR__CMD_ADD_SITE__INIT;

	m.name = S(name);
	CMD(add_site, ADD_SITE, m);
}

void *fuzz_cmd_remove_site(const char *name, size_t *len)
{
	Poolpair__CmdRemoveSite m = POOLPAIR__CMD_REMOVE_SITE__INIT;

	m.name = S(name);
	CMD(remove_site, REMOVE_SITE, m);
}

void *fuzz_cmd_add_pool(const char *name, const char *site,
			const char *edition, const char *kind, const char *os,
			uint32_t capacity, size_t *len)
{
	Poolpair__Pool p = POOLPAIR__POOL__INIT;
	Poolpair__CmdAddPool m = POOLPAIR__CMD_ADD_POOL__INIT;

	p.name = S(name);
	p.site = S(site);
	p.edition = S(edition);
	p.kind = S(kind);
	p.os = S(os);
	p.capacity = capacity;
	m.pool = &p;
	CMD(add_pool, ADD_POOL, m);
}

void *fuzz_cmd_remove_pool(const char *name, size_t *len)
{
	Poolpair__CmdRemovePool m = POOLPAIR__CMD_REMOVE_POOL__INIT;

	m.name = S(name);
	CMD(remove_pool, REMOVE_POOL, m);
}

void *fuzz_cmd_pair(const char *a, const char *b, bool force, size_t *len)
{
	Poolpair__CmdPair m = POOLPAIR__CMD_PAIR__INIT;

	m.a = S(a);
	m.b = S(b);
	m.force = force;
	CMD(pair, PAIR, m);
}

void *fuzz_cmd_unpair(const char *pool, size_t *len)
{
	Poolpair__CmdUnpair m = POOLPAIR__CMD_UNPAIR__INIT;

	m.pool = S(pool);
	CMD(unpair, UNPAIR, m);
}

void *fuzz_cmd_add_sba(const char *name, const char *site,
		       const char *backup_pool, size_t *len)
{
	Poolpair__Sba s = POOLPAIR__SBA__INIT;
	Poolpair__CmdAddSba m = POOLPAIR__CMD_ADD_SBA__INIT;

	s.name = S(name);
	s.site = S(site);
	s.backup_pool = S(backup_pool);
	m.sba = &s;
	CMD(add_sba, ADD_SBA, m);
}

void *fuzz_cmd_remove_sba(const char *name, size_t *len)
{
	Poolpair__CmdRemoveSba m = POOLPAIR__CMD_REMOVE_SBA__INIT;

	m.name = S(name);
	CMD(remove_sba, REMOVE_SBA, m);
}

void *fuzz_cmd_register_member(uint64_t id, const char *name,
			       const char *site, const char *pool, size_t *len)
{
	Poolpair__Member mb = POOLPAIR__MEMBER__INIT;
	Poolpair__CmdRegisterMember m = POOLPAIR__CMD_REGISTER_MEMBER__INIT;
	char raft[32], data[32], api[32];

	snprintf(raft, sizeof raft, "127.0.0.1:%u", 7000u + (unsigned)(id % 100));
	snprintf(data, sizeof data, "127.0.0.1:%u", 7200u + (unsigned)(id % 100));
	snprintf(api, sizeof api, "127.0.0.1:%u", 7100u + (unsigned)(id % 100));
	mb.id = id;
	mb.name = S(name);
	mb.site = S(site);
	mb.pool = S(pool);
	mb.raft_address = raft;
	mb.data_address = pool[0] != '\0' ? data : S("");
	mb.api_address = api;
	m.member = &mb;
	CMD(register_member, REGISTER_MEMBER, m);
}

void *fuzz_cmd_remove_member(uint64_t id, size_t *len)
{
	Poolpair__CmdRemoveMember m = POOLPAIR__CMD_REMOVE_MEMBER__INIT;

	m.id = id;
	CMD(remove_member, REMOVE_MEMBER, m);
}

void *fuzz_cmd_set_policy(const char *failover, uint32_t max_lag_ms,
			  uint32_t cooldown_ms, bool merge, size_t *len)
{
	Poolpair__Policy p = POOLPAIR__POLICY__INIT;
	Poolpair__CmdSetPolicy m = POOLPAIR__CMD_SET_POLICY__INIT;

	p.failover = S(failover);
	p.max_lag_on_failover_ms = max_lag_ms;
	p.cooldown_ms = cooldown_ms;
	m.policy = &p;
	m.merge = merge;
	m.has_failover = merge;
	m.has_cooldown = merge;
	CMD(set_policy, SET_POLICY, m);
}

void *fuzz_cmd_cms_place(const char *pool, size_t *len)
{
	Poolpair__CmdCmsPlace m = POOLPAIR__CMD_CMS_PLACE__INIT;

	m.pool = S(pool);
	CMD(cms_place, CMS_PLACE, m);
}

void *fuzz_cmd_failover_begin(const char *pool, bool planned, bool forced,
			      size_t *len)
{
	Poolpair__CmdFailoverBegin m = POOLPAIR__CMD_FAILOVER_BEGIN__INIT;

	m.pool = S(pool);
	m.planned = planned;
	m.forced = forced;
	m.data_at_risk_records = 3;
	m.data_at_risk_bytes = 4096;
	m.data_at_risk_ms = 250;
	m.reason = S("pool down");
	m.takeover_data_seq = 41;
	m.takeover_content_seq = 7;
	CMD(failover_begin, FAILOVER_BEGIN, m);
}

void *fuzz_cmd_failover_complete(const char *pool, size_t *len)
{
	Poolpair__CmdFailoverComplete m = POOLPAIR__CMD_FAILOVER_COMPLETE__INIT;

	m.pool = S(pool);
	m.takeover_data_seq = 42;
	m.takeover_content_seq = 8;
	CMD(failover_complete, FAILOVER_COMPLETE, m);
}

void *fuzz_cmd_failover_abort(const char *pool, size_t *len)
{
	Poolpair__CmdFailoverAbort m = POOLPAIR__CMD_FAILOVER_ABORT__INIT;

	m.pool = S(pool);
	m.reason = S("drain timed out");
	CMD(failover_abort, FAILOVER_ABORT, m);
}

void *fuzz_cmd_pool_recovering(const char *pool, size_t *len)
{
	Poolpair__CmdPoolRecovering m = POOLPAIR__CMD_POOL_RECOVERING__INIT;

	m.pool = S(pool);
	CMD(pool_recovering, POOL_RECOVERING, m);
}

void *fuzz_cmd_failback_begin(const char *pool, bool forced, size_t *len)
{
	Poolpair__CmdFailbackBegin m = POOLPAIR__CMD_FAILBACK_BEGIN__INIT;

	m.pool = S(pool);
	m.forced = forced;
	CMD(failback_begin, FAILBACK_BEGIN, m);
}

void *fuzz_cmd_failback_complete(const char *pool, size_t *len)
{
	Poolpair__CmdFailbackComplete m = POOLPAIR__CMD_FAILBACK_COMPLETE__INIT;

	m.pool = S(pool);
	CMD(failback_complete, FAILBACK_COMPLETE, m);
}

void *fuzz_cmd_failback_abort(const char *pool, size_t *len)
{
	Poolpair__CmdFailbackAbort m = POOLPAIR__CMD_FAILBACK_ABORT__INIT;

	m.pool = S(pool);
	m.reason = S("resync failed");
	CMD(failback_abort, FAILBACK_ABORT, m);
}

void *fuzz_cmd_cms_failover(bool planned, bool forced, size_t *len)
{
	Poolpair__CmdCmsFailover m = POOLPAIR__CMD_CMS_FAILOVER__INIT;

	m.planned = planned;
	m.forced = forced;
	if (!planned) {
		m.data_at_risk_records = 2;
		m.data_at_risk_bytes = 700;
		m.data_at_risk_ms = 120;
		m.reason = S("disaster: pool-east silent for 3000 ms");
	}
	CMD(cms_failover, CMS_FAILOVER, m);
}

void *fuzz_cmd_cms_failover_complete(uint64_t since_ms, size_t *len)
{
	Poolpair__CmdCmsFailoverComplete m =
	    POOLPAIR__CMD_CMS_FAILOVER_COMPLETE__INIT;

	m.since_ms = since_ms;
	CMD(cms_failover_complete, CMS_FAILOVER_COMPLETE, m);
}

void *fuzz_cmd_cms_failover_abort(uint64_t since_ms, size_t *len)
{
	Poolpair__CmdCmsFailoverAbort m = POOLPAIR__CMD_CMS_FAILOVER_ABORT__INIT;

	m.since_ms = since_ms;
	m.reason = S("the drain did not finish in time");
	CMD(cms_failover_abort, CMS_FAILOVER_ABORT, m);
}

void *fuzz_cmd_pair_mode(const char *pool, int mode, uint32_t sync_timeout_ms,
			 size_t *len)
{
	Poolpair__CmdPairMode m = POOLPAIR__CMD_PAIR_MODE__INIT;

	m.pool = S(pool);
	m.mode = (Poolpair__ReplMode)mode;
	m.sync_timeout_ms = sync_timeout_ms;
	CMD(pair_mode, PAIR_MODE, m);
}

void *fuzz_cmd_record_event(const char *what, bool ok, bool keep,
			    size_t *len)
{
	Poolpair__CmdRecordEvent m = POOLPAIR__CMD_RECORD_EVENT__INIT;

	m.what = S(what);
	m.ok = ok;
	m.keep = keep;
	m.detail = S(ok ? "" : "fence_command exited with 1");
	CMD(record_event, RECORD_EVENT, m);
}

void *fuzz_cmd_pool_pause(const char *pool, bool paused, size_t *len)
{
	Poolpair__CmdPoolPause m = POOLPAIR__CMD_POOL_PAUSE__INIT;

	m.pool = S(pool);
	m.paused = paused;
	m.reason = S(paused ? "planned work" : "");
	CMD(pool_pause, POOL_PAUSE, m);
}

void *fuzz_cmd_failover_auto(const char *pool, size_t *len)
{
	Poolpair__CmdFailoverBegin m = POOLPAIR__CMD_FAILOVER_BEGIN__INIT;

	m.pool = S(pool);
	m.forced = true;
	m.automatic = true;
	m.reason = S("automatic: silent for 3000 ms");
	m.data_at_risk_records = 12;
	m.data_at_risk_bytes = 4096;
	m.data_at_risk_ms = 300;
	CMD(failover_begin, FAILOVER_BEGIN, m);
}

void *fuzz_cmd_pool_writer(const struct fsm *f, const char *pool,
			   uint64_t member_id, uint64_t expect_token,
			   size_t *len)
{
	Poolpair__CmdPoolWriter m = POOLPAIR__CMD_POOL_WRITER__INIT;
	Poolpair__WriterSeq seqs[FSM_MAX_OWNED_SETS];
	Poolpair__WriterSeq *ptrs[FSM_MAX_OWNED_SETS];
	const char *sets[FSM_MAX_OWNED_SETS];
	size_t n = f != NULL ? fsm_pool_owned_sets(f, pool, sets) : 0;

	for (size_t i = 0; i < n; i++) {
		poolpair__writer_seq__init(&seqs[i]);
		seqs[i].user_set = S(sets[i]);
		seqs[i].data_seq = 100 + i;
		seqs[i].content_seq = 200 + i;
		ptrs[i] = &seqs[i];
	}
	m.pool = S(pool);
	m.member_id = member_id;
	m.expect_token = expect_token;
	m.reason = S(n > 0 ? "local takeover: writer silent 4000 ms"
			   : "no writer");
	m.n_seqs = n;
	m.seqs = ptrs;
	CMD(pool_writer, POOL_WRITER, m);
}

void *fuzz_cmd_pool_sync(const char *pool, uint64_t writer_token,
			 uint64_t standby, size_t *len)
{
	Poolpair__CmdPoolSync m = POOLPAIR__CMD_POOL_SYNC__INIT;

	m.pool = S(pool);
	m.writer_token = writer_token;
	m.standby = standby;
	m.reason = S(standby != 0 ? "standby caught up" : "standby lost");
	CMD(pool_sync, POOL_SYNC, m);
}

void *fuzz_cmd_topology(void *const *steps, const size_t *lens, size_t n,
			size_t *len)
{
	Poolpair__CmdTopology m = POOLPAIR__CMD_TOPOLOGY__INIT;
	Poolpair__Command **dec = xmalloc(n * sizeof *dec);
	Poolpair__Command c = POOLPAIR__COMMAND__INIT;
	void *buf;
	size_t i;

	for (i = 0; i < n; i++) {
		dec[i] = poolpair__command__unpack(NULL, lens[i], steps[i]);
		if (dec[i] == NULL) {
			fputs("fuzz: a topology step does not decode\n", stderr);
			abort();
		}
	}
	m.n_steps = n;
	m.steps = dec;
	c.op_case = POOLPAIR__COMMAND__OP_TOPOLOGY;
	c.topology = &m;
	buf = pack(&c, len);
	for (i = 0; i < n; i++) {
		poolpair__command__free_unpacked(dec[i], NULL);
	}
	free(dec);
	return buf;
}

/* Apply buf (owned: freed here) of *len bytes to f; abort unless it is
 * accepted. The length is read through a pointer, here: the encoder that
 * makes buf and sets *len is an argument of the same call, and C leaves
 * the order in which a call's arguments are evaluated unspecified, so a
 * length passed by value could be read before the encoder wrote it. */
static void must(struct fsm *f, void *buf, const size_t *len, const char *what)
{
	struct fsm_result res;

	if (buf == NULL) {
		fprintf(stderr, "fuzz: populate: %s: encoding failed\n", what);
		abort();
	}
	if (fsm_apply(f, buf, *len, &res) != FSM_OK) {
		fprintf(stderr, "fuzz: populate: %s refused: %s: %s\n", what,
			fsm_code_name(res.code), res.reason);
		abort();
	}
	free(buf);
}

void fuzz_state_populate(struct fsm *f)
{
	static const char *const sites[] = {"east", "west", "north", "south"};
	size_t len;
	size_t i;

	for (i = 0; i < sizeof sites / sizeof sites[0]; i++) {
		must(f, fuzz_cmd_add_site(sites[i], &len), &len, "add_site");
	}
	must(f, fuzz_cmd_add_pool("pool-east", "east", "enterprise", "physical",
				  "windows-2019", 10000, &len),
	     &len, "add_pool");
	must(f, fuzz_cmd_add_pool("pool-west", "west", "enterprise", "physical",
				  "windows-2019", 10000, &len),
	     &len, "add_pool");
	must(f, fuzz_cmd_add_pool("pool-std-e", "east", "standard", "virtual",
				  "windows-2016", 2000, &len),
	     &len, "add_pool");
	must(f, fuzz_cmd_add_pool("pool-south", "south", "standard", "virtual",
				  "windows-2016", 2000, &len),
	     &len, "add_pool");
	must(f, fuzz_cmd_add_pool("pool-lone", "north", "enterprise", "virtual",
				  "windows-2022", 0, &len),
	     &len, "add_pool");
	must(f, fuzz_cmd_register_member(1, "east-1", "east", "pool-east", &len),
	     &len, "register_member");
	must(f, fuzz_cmd_register_member(2, "west-1", "west", "pool-west", &len),
	     &len, "register_member");
	must(f, fuzz_cmd_register_member(3, "witness-1", "north", "", &len), &len,
	     "register_member");
	must(f, fuzz_cmd_pair("pool-east", "pool-west", false, &len), &len,
	     "pair");
	must(f, fuzz_cmd_pair("pool-std-e", "pool-south", false, &len), &len,
	     "pair");
	must(f, fuzz_cmd_add_sba("sba-east", "east", "pool-east", &len), &len,
	     "add_sba");
	must(f, fuzz_cmd_cms_place("pool-east", &len), &len, "cms_place");
	must(f, fuzz_cmd_set_policy("auto", 2000, 30000, false, &len), &len,
	     "set_policy");
	must(f, fuzz_cmd_failover_begin("pool-std-e", false, false, &len), &len,
	     "failover_begin");
	must(f, fuzz_cmd_pool_recovering("pool-std-e", &len), &len,
	     "pool_recovering");
	must(f, fuzz_cmd_pool_pause("pool-std-e", true, &len), &len,
	     "pool_pause");
}

void fuzz_seed_commands(void (*emit)(void *arg, const char *name,
				     const void *buf, size_t len),
			void *arg)
{
	void *steps[4];
	size_t lens[4];
	void *b;
	size_t len;

#define EMIT(name, call)                                                       \
	do {                                                                   \
		b = (call);                                                    \
		emit(arg, name, b, len);                                       \
		free(b);                                                       \
	} while (0)

	EMIT("add_site", fuzz_cmd_add_site("central", &len));
	EMIT("remove_site", fuzz_cmd_remove_site("south", &len));
	EMIT("add_pool", fuzz_cmd_add_pool("pool-new", "west", "standard",
					   "virtual", "windows-2016", 500,
					   &len));
	EMIT("remove_pool", fuzz_cmd_remove_pool("pool-lone", &len));
	EMIT("pair", fuzz_cmd_pair("pool-lone", "pool-east", true, &len));
	EMIT("unpair", fuzz_cmd_unpair("pool-east", &len));
	EMIT("add_sba", fuzz_cmd_add_sba("sba-west", "west", "pool-west", &len));
	EMIT("remove_sba", fuzz_cmd_remove_sba("sba-east", &len));
	EMIT("register_member",
	     fuzz_cmd_register_member(4, "west-2", "west", "pool-west", &len));
	EMIT("remove_member", fuzz_cmd_remove_member(3, &len));
	EMIT("set_policy", fuzz_cmd_set_policy("manual", 500, 1000, true, &len));
	EMIT("cms_place", fuzz_cmd_cms_place("pool-west", &len));
	EMIT("failover_begin",
	     fuzz_cmd_failover_begin("pool-east", true, false, &len));
	EMIT("failover_disaster",
	     fuzz_cmd_failover_begin("pool-west", false, true, &len));
	EMIT("failover_complete", fuzz_cmd_failover_complete("pool-east", &len));
	EMIT("failover_abort", fuzz_cmd_failover_abort("pool-east", &len));
	EMIT("pool_recovering", fuzz_cmd_pool_recovering("pool-std-e", &len));
	EMIT("failback_begin", fuzz_cmd_failback_begin("pool-std-e", false, &len));
	EMIT("failback_complete",
	     fuzz_cmd_failback_complete("pool-std-e", &len));
	EMIT("failback_abort", fuzz_cmd_failback_abort("pool-std-e", &len));
	EMIT("cms_failover", fuzz_cmd_cms_failover(false, false, &len));
	EMIT("cms_failover_planned", fuzz_cmd_cms_failover(true, false, &len));
	EMIT("cms_failover_complete",
	     fuzz_cmd_cms_failover_complete(FUZZ_TIME_MS, &len));
	EMIT("cms_failover_abort",
	     fuzz_cmd_cms_failover_abort(FUZZ_TIME_MS, &len));
	EMIT("pair_mode", fuzz_cmd_pair_mode("pool-west", 1, 1500, &len));
	EMIT("record_event", fuzz_cmd_record_event("fence pool-east", false,
						   false, &len));
	EMIT("record_event_kept",
	     fuzz_cmd_record_event("rebuild of east-1", true, true, &len));
	EMIT("pool_pause", fuzz_cmd_pool_pause("pool-east", true, &len));
	EMIT("pool_resume", fuzz_cmd_pool_pause("pool-std-e", false, &len));
	EMIT("failover_auto", fuzz_cmd_failover_auto("pool-west", &len));
	EMIT("pool_writer",
	     fuzz_cmd_pool_writer(NULL, "pool-east", 1, 0, &len));
	EMIT("pool_sync", fuzz_cmd_pool_sync("pool-west", 1, 2, &len));
	{
		/* a local takeover of pool-east (owning its user set and the
		 * CMS): its positions, over a token it does not have yet */
		static struct fsm f;

		fsm_init(&f);
		fuzz_state_populate(&f);
		EMIT("pool_writer_seqs",
		     fuzz_cmd_pool_writer(&f, "pool-east", 1, 1, &len));
	}

	steps[0] = fuzz_cmd_add_site("central", &lens[0]);
	steps[1] = fuzz_cmd_add_pool("pool-c", "central", "enterprise",
				     "virtual", "windows-2022", 100, &lens[1]);
	steps[2] = fuzz_cmd_pair("pool-c", "pool-lone", false, &lens[2]);
	steps[3] = fuzz_cmd_pair_mode("pool-c", 1, 0, &lens[3]);
	EMIT("topology", fuzz_cmd_topology(steps, lens, 4, &len));
	free(steps[0]);
	free(steps[1]);
	free(steps[2]);
	free(steps[3]);
#undef EMIT
}
