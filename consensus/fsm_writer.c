/* fsm_writer: the one writer of each pool (see fsm.h): the pool_writer
 * command, a compare and set on the pool's writer token; what removing the
 * writer does to its pool; the lookup of a pool's writer. */
#include <inttypes.h>
#include <string.h>

#include "consensus/fsm.h"
#include "consensus/fsm_internal.h"
#include "control.pb-c.h"

int fsm_op_pool_writer(struct fsm *f, const Poolpair__CmdPoolWriter *c,
		       struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	const char *reason = fsm_str(c->reason);
	const struct fsm_member *m;
	struct fsm_pool *p;
	char cn[CLIP_LEN];
	int i;

	fsm_fmt(o->what, sizeof(o->what), "writer of %s: member %" PRIu64,
		fsm_clip(cn, name), c->member_id);
	if (fsm_check_name(o, "pool name", name))
		return o->code;
	if (c->member_id == 0)
		return fsm_fail(o, FSM_E_INVALID,
				"member id must be greater than 0");
	i = fsm_pool_index(f, name);
	if (i < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND, "pool %s is not defined",
				cn);
	p = &f->pools[i];
	m = fsm_member_find(f, c->member_id);
	if (m == NULL)
		return fsm_fail(o, FSM_E_NOT_FOUND,
				"member %" PRIu64 " is not registered",
				c->member_id);
	fsm_fmt(o->what, sizeof(o->what),
		"writer of %s: %s (member %" PRIu64 ")", p->name, m->name,
		m->id);
	if (strcmp(m->pool, p->name) != 0) {
		if (m->pool[0] == '\0')
			return fsm_fail(o, FSM_E_INVALID,
					"member %" PRIu64
					" (%s) is a witness, not an agent of "
					"%s",
					m->id, m->name, p->name);
		return fsm_fail(o, FSM_E_INVALID,
				"member %" PRIu64
				" (%s) is an agent of %s, not %s",
				m->id, m->name, m->pool, p->name);
	}
	if (strcmp(m->site, p->site) != 0)
		return fsm_fail(o, FSM_E_INVALID,
				"member %" PRIu64
				" (%s) is in site %s, %s is in site %s",
				m->id, m->name, m->site, p->name, p->site);
	if (c->expect_token != p->writer_token)
		return fsm_fail(o, FSM_E_STALE,
				"the writer of %s changed since: its token is "
				"%" PRIu64
				", the decision was made at %" PRIu64,
				p->name, p->writer_token, c->expect_token);
	if (p->writer == m->id)
		return fsm_fail(o, FSM_E_EXISTS,
				"%s (member %" PRIu64
				") is the writer of %s already",
				m->name, m->id, p->name);
	if (p->writer_token == UINT64_MAX)
		return fsm_fail(o, FSM_E_FULL,
				"the writer token of %s cannot be raised",
				p->name);
	p->writer = m->id;
	p->writer_token++;
	fsm_fmt(o->what, sizeof(o->what),
		"writer of %s: %s (member %" PRIu64 "), token %" PRIu64,
		p->name, m->name, m->id, p->writer_token);
	fsm_text_copy(o->reason, sizeof(o->reason), reason, strlen(reason));
	return FSM_OK;
}

int fsm_writer_check_remove(const struct fsm *f, uint64_t id, struct outcome *o)
{
	for (unsigned i = 0; i < f->n_pools; i++)
		if (f->pools[i].writer == id &&
		    f->pools[i].writer_token == UINT64_MAX)
			return fsm_fail(o, FSM_E_FULL,
					"member %" PRIu64
					" is the writer of %s, whose writer "
					"token cannot be raised",
					id, f->pools[i].name);
	return FSM_OK;
}

void fsm_writer_removed(struct fsm *f, const struct fsm_member *m,
			struct outcome *o)
{
	bool named = false;

	for (unsigned i = 0; i < f->n_pools; i++) {
		struct fsm_pool *p = &f->pools[i];
		size_t n;

		if (p->writer != m->id)
			continue;
		if (!named) {
			n = strlen(o->what);
			fsm_fmt(o->what + n, sizeof(o->what) - n, " (%s)",
				m->name);
			named = true;
		}
		n = strlen(o->what);
		p->writer = 0;
		p->writer_token++;
		fsm_fmt(o->what + n, sizeof(o->what) - n,
			", writer of %s: no writer, token %" PRIu64, p->name,
			p->writer_token);
	}
}

const struct fsm_member *fsm_pool_writer(const struct fsm *f, const char *pool)
{
	int i;

	if (pool == NULL)
		return NULL;
	i = fsm_pool_index(f, pool);
	if (i < 0 || f->pools[i].writer == 0)
		return NULL;
	return fsm_member_find(f, f->pools[i].writer);
}
