/* fsm_writer: the one writer of each pool (see fsm.h): the pool_writer
 * command, a compare and set on the pool's writer token, and its local
 * takeover (to the synchronous standby, raising the epochs of what the
 * pool owns); the pool_sync command that names the synchronous standby;
 * what removing the writer or the standby does to its pool; the lookups of
 * a pool's writer and of the user sets a pool owns. */
#include <inttypes.h>
#include <string.h>

#include "consensus/fsm.h"
#include "consensus/fsm_internal.h"
#include "control.pb-c.h"

/* A user set a pool owns: the pool that names it (its index), or the CMS
 * documents (pi -1). */
struct owned {
	const char *name;
	int pi;
};

/* The user sets of pool i (see fsm_pool_owned_sets()). */
static size_t owned_sets(const struct fsm *f, int i,
			 struct owned out[FSM_MAX_OWNED_SETS])
{
	const struct fsm_pool *p = &f->pools[i];
	size_t n = 0;
	int q;

	if (strcmp(p->owner, p->name) == 0)
		out[n++] = (struct owned){p->name, i};
	if (p->pair[0] != '\0') {
		q = fsm_pool_index(f, p->pair);
		if (q >= 0 && strcmp(f->pools[q].owner, p->name) == 0)
			out[n++] = (struct owned){f->pools[q].name, q};
	}
	if (strcmp(f->cms_active, p->name) == 0)
		out[n++] = (struct owned){FSM_CMS_USER_SET, -1};
	return n;
}

size_t fsm_pool_owned_sets(const struct fsm *f, const char *pool,
			   const char *out[FSM_MAX_OWNED_SETS])
{
	struct owned o[FSM_MAX_OWNED_SETS];
	size_t n, m = 0;
	int i;

	if (pool == NULL)
		return 0;
	i = fsm_pool_index(f, pool);
	if (i < 0)
		return 0;
	n = owned_sets(f, i, o);
	for (size_t k = 0; k < n; k++) {
		size_t j;

		/* a pool named like the CMS's user set, hosting it: one name
		 * for both (a takeover's position of it is for both) */
		for (j = 0; j < m && strcmp(out[j], o[k].name) != 0; j++)
			;
		if (j == m)
			out[m++] = o[k].name;
	}
	return m;
}

/* The name of member id for a sentence: "none" for 0, "member 9" for one
 * that is not registered. */
static const char *member_name(const struct fsm *f, uint64_t id,
			       char buf[FSM_NAME_LEN])
{
	const struct fsm_member *m;

	if (id == 0)
		return "none";
	m = fsm_member_find(f, id);
	if (m != NULL)
		return m->name;
	fsm_fmt(buf, FSM_NAME_LEN, "member %" PRIu64, id);
	return buf;
}

/* Refuse (FSM_E_INVALID) unless m is an agent of p, in p's site. */
static int check_member_of(const struct fsm_member *m,
			   const struct fsm_pool *p, struct outcome *o)
{
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
	return FSM_OK;
}

/* A change of writer being checked. */
struct change {
	int pi;
	const struct fsm_member *m;
	bool takeover; /* a local takeover: epochs raised, seqs needed */
	struct owned sets[FSM_MAX_OWNED_SETS];
	size_t n_sets;
};

/* Every check of a change of writer of pool name to member id but the
 * seqs'; the token's only when expect is not NULL. Fills ch. */
static int check_change(const struct fsm *f, const char *name, uint64_t id,
			const uint64_t *expect, struct outcome *o,
			struct change *ch)
{
	const struct fsm_member *m;
	const struct fsm_pool *p;
	char cn[CLIP_LEN], sb[FSM_NAME_LEN];
	int i;

	memset(ch, 0, sizeof(*ch));
	fsm_fmt(o->what, sizeof(o->what), "writer of %s: member %" PRIu64,
		fsm_clip(cn, name), id);
	if (fsm_check_name(o, "pool name", name))
		return o->code;
	if (id == 0)
		return fsm_fail(o, FSM_E_INVALID,
				"member id must be greater than 0");
	i = fsm_pool_index(f, name);
	if (i < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND, "pool %s is not defined",
				cn);
	p = &f->pools[i];
	m = fsm_member_find(f, id);
	if (m == NULL)
		return fsm_fail(o, FSM_E_NOT_FOUND,
				"member %" PRIu64 " is not registered", id);
	fsm_fmt(o->what, sizeof(o->what),
		"writer of %s: %s (member %" PRIu64 ")", p->name, m->name,
		m->id);
	if (check_member_of(m, p, o))
		return o->code;
	if (expect != NULL && *expect != p->writer_token)
		return fsm_fail(o, FSM_E_STALE,
				"the writer of %s changed since: its token is "
				"%" PRIu64
				", the decision was made at %" PRIu64,
				p->name, p->writer_token, *expect);
	if (p->writer == m->id)
		return fsm_fail(o, FSM_E_EXISTS,
				"%s (member %" PRIu64
				") is the writer of %s already",
				m->name, m->id, p->name);
	ch->pi = i;
	ch->m = m;
	/* the pool's own user set is written here, by its writer: only the
	 * member known to hold every write it answered may follow it */
	ch->takeover = p->writer != 0 && strcmp(p->owner, p->name) == 0;
	if (ch->takeover && p->sync_standby != m->id)
		return fsm_fail(o, FSM_E_REFUSED,
				"%s is not caught up: the synchronous standby "
				"of %s is %s",
				m->name, p->name,
				member_name(f, p->sync_standby, sb));
	if (p->writer_token == UINT64_MAX)
		return fsm_fail(o, FSM_E_FULL,
				"the writer token of %s cannot be raised",
				p->name);
	if (!ch->takeover)
		return FSM_OK;
	ch->n_sets = owned_sets(f, i, ch->sets);
	for (size_t k = 0; k < ch->n_sets; k++) {
		uint64_t e = ch->sets[k].pi < 0 ? f->cms_epoch
						: f->pools[ch->sets[k].pi].epoch;

		if (e == UINT64_MAX)
			return fsm_fail(o, FSM_E_FULL,
					"the epoch of user set %s cannot be "
					"raised",
					ch->sets[k].name);
	}
	return FSM_OK;
}

/* The entry of c's seqs for user set name; NULL (o filled in) when there
 * is none. Entries naming one user set twice were refused before. */
static const Poolpair__WriterSeq *seq_of(const Poolpair__CmdPoolWriter *c,
					 const char *name)
{
	for (size_t k = 0; k < c->n_seqs; k++)
		if (c->seqs[k] != NULL &&
		    strcmp(fsm_str(c->seqs[k]->user_set), name) == 0)
			return c->seqs[k];
	return NULL;
}

/* The seqs of a local takeover: one entry for each user set the pool
 * owns (others are ignored), none named twice. */
static int check_seqs(const struct fsm *f, const Poolpair__CmdPoolWriter *c,
		      const struct change *ch, struct outcome *o)
{
	char cn[CLIP_LEN];

	for (size_t k = 0; k < c->n_seqs; k++) {
		const char *a = c->seqs[k] != NULL
				    ? fsm_str(c->seqs[k]->user_set)
				    : "";

		for (size_t j = 0; j < k; j++)
			if (c->seqs[j] != NULL &&
			    strcmp(fsm_str(c->seqs[j]->user_set), a) == 0)
				return fsm_fail(o, FSM_E_INVALID,
						"user set %s is named twice in "
						"the positions of %s",
						fsm_clip(cn, a), ch->m->name);
	}
	for (size_t k = 0; k < ch->n_sets; k++)
		if (seq_of(c, ch->sets[k].name) == NULL)
			return fsm_fail(o, FSM_E_INVALID,
					"no position of user set %s at %s: a "
					"local takeover names one per user "
					"set %s owns",
					ch->sets[k].name, ch->m->name,
					f->pools[ch->pi].name);
	return FSM_OK;
}

/* Raise the epoch of every user set the pool owns, record where the new
 * writer's copy of each stood and the epoch raised to, and name the
 * epochs in o->what. */
static void take_over(struct fsm *f, const Poolpair__CmdPoolWriter *c,
		      const struct change *ch, struct outcome *o)
{
	for (size_t k = 0; k < ch->n_sets; k++) {
		const Poolpair__WriterSeq *s = seq_of(c, ch->sets[k].name);
		size_t n = strlen(o->what);

		if (ch->sets[k].pi < 0) {
			f->cms_epoch++;
			f->cms_writer_seq[0] = s->data_seq;
			f->cms_writer_seq[1] = s->content_seq;
			f->cms_writer_epoch = f->cms_epoch;
			fsm_fmt(o->what + n, sizeof(o->what) - n,
				", cms epoch %" PRIu64, f->cms_epoch);
		} else {
			struct fsm_pool *q = &f->pools[ch->sets[k].pi];

			q->epoch++;
			q->writer_seq[0] = s->data_seq;
			q->writer_seq[1] = s->content_seq;
			q->writer_epoch = q->epoch;
			fsm_fmt(o->what + n, sizeof(o->what) - n,
				", epoch %s %" PRIu64, q->name, q->epoch);
		}
	}
}

int fsm_op_pool_writer(struct fsm *f, const Poolpair__CmdPoolWriter *c,
		       struct outcome *o)
{
	const char *reason = fsm_str(c->reason);
	char old[FSM_NAME_LEN], ob[FSM_NAME_LEN];
	struct fsm_pool *p;
	struct change ch;

	if (check_change(f, fsm_str(c->pool), c->member_id, &c->expect_token,
			 o, &ch))
		return o->code;
	if (ch.takeover && check_seqs(f, c, &ch, o))
		return o->code;
	p = &f->pools[ch.pi];
	fsm_name_set(old, member_name(f, p->writer, ob));
	p->writer = ch.m->id;
	p->writer_token++;
	p->sync_standby = 0;
	if (ch.takeover) {
		fsm_fmt(o->what, sizeof(o->what),
			"writer of %s: %s -> %s (member %" PRIu64
			"), token %" PRIu64,
			p->name, old, ch.m->name, ch.m->id, p->writer_token);
		take_over(f, c, &ch, o);
	} else {
		fsm_fmt(o->what, sizeof(o->what),
			"writer of %s: %s (member %" PRIu64 "), token %" PRIu64,
			p->name, ch.m->name, ch.m->id, p->writer_token);
	}
	fsm_text_copy(o->reason, sizeof(o->reason), reason, strlen(reason));
	return FSM_OK;
}

int fsm_pool_writer_check(const struct fsm *f, const char *pool,
			  uint64_t member_id, struct fsm_result *res)
{
	struct outcome o;
	struct change ch;

	memset(&o, 0, sizeof(o));
	check_change(f, fsm_str(pool), member_id, NULL, &o, &ch);
	if (res != NULL) {
		memset(res, 0, sizeof(*res));
		res->code = o.code;
		if (o.code != FSM_OK)
			strcpy(res->reason, o.reason);
	}
	return o.code;
}

/* ---- the synchronous standby ---- */

int fsm_op_pool_sync(struct fsm *f, const Poolpair__CmdPoolSync *c,
		     struct outcome *o)
{
	const char *name = fsm_str(c->pool);
	const char *reason = fsm_str(c->reason);
	const struct fsm_member *m = NULL;
	char cn[CLIP_LEN], ob[FSM_NAME_LEN], nb[FSM_NAME_LEN];
	struct fsm_pool *p;
	int i;

	fsm_clip(cn, name);
	if (c->standby == 0)
		fsm_fmt(o->what, sizeof(o->what), "sync standby of %s: none",
			cn);
	else
		fsm_fmt(o->what, sizeof(o->what),
			"sync standby of %s: member %" PRIu64, cn, c->standby);
	if (fsm_check_name(o, "pool name", name))
		return o->code;
	i = fsm_pool_index(f, name);
	if (i < 0)
		return fsm_fail(o, FSM_E_NOT_FOUND, "pool %s is not defined",
				cn);
	p = &f->pools[i];
	if (c->writer_token != p->writer_token)
		return fsm_fail(o, FSM_E_STALE,
				"the writer of %s changed since: its token is "
				"%" PRIu64 ", the request was made at %" PRIu64,
				p->name, p->writer_token, c->writer_token);
	if (p->writer == 0)
		return fsm_fail(o, FSM_E_STALE, "%s has no writer", p->name);
	if (c->standby != 0) {
		m = fsm_member_find(f, c->standby);
		if (m == NULL)
			return fsm_fail(o, FSM_E_NOT_FOUND,
					"member %" PRIu64 " is not registered",
					c->standby);
		fsm_fmt(o->what, sizeof(o->what),
			"sync standby of %s: %s (member %" PRIu64 ")", p->name,
			m->name, m->id);
		if (check_member_of(m, p, o))
			return o->code;
		if (m->id == p->writer)
			return fsm_fail(o, FSM_E_INVALID,
					"%s (member %" PRIu64
					") is the writer of %s, not a standby",
					m->name, m->id, p->name);
	}
	if (p->sync_standby == c->standby) {
		o->quiet = true; /* nothing changes: no history entry */
		return FSM_OK;
	}
	fsm_fmt(o->what, sizeof(o->what), "sync standby of %s: %s -> %s",
		p->name, member_name(f, p->sync_standby, ob),
		member_name(f, c->standby, nb));
	p->sync_standby = c->standby;
	fsm_text_copy(o->reason, sizeof(o->reason), reason, strlen(reason));
	return FSM_OK;
}

/* ---- removal ---- */

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

		if (p->writer != m->id && p->sync_standby != m->id)
			continue;
		if (!named) {
			n = strlen(o->what);
			fsm_fmt(o->what + n, sizeof(o->what) - n, " (%s)",
				m->name);
			named = true;
		}
		n = strlen(o->what);
		if (p->writer == m->id) {
			p->writer = 0;
			p->writer_token++;
			p->sync_standby = 0;
			fsm_fmt(o->what + n, sizeof(o->what) - n,
				", writer of %s: no writer, token %" PRIu64,
				p->name, p->writer_token);
		} else {
			p->sync_standby = 0;
			fsm_fmt(o->what + n, sizeof(o->what) - n,
				", sync standby of %s: none", p->name);
		}
	}
}

const struct fsm_member *fsm_pool_sync_standby(const struct fsm *f,
					       const char *pool)
{
	int i;

	if (pool == NULL)
		return NULL;
	i = fsm_pool_index(f, pool);
	if (i < 0 || f->pools[i].sync_standby == 0)
		return NULL;
	return fsm_member_find(f, f->pools[i].sync_standby);
}

bool fsm_user_set_floor_epoch(const struct fsm *f, const char *user_set,
			      uint64_t *floor)
{
	int i;

	if (user_set == NULL)
		return false;
	if (strcmp(user_set, FSM_CMS_USER_SET) == 0) {
		if (f->cms_active[0] == '\0')
			return false;
		*floor = f->cms_floor_epoch;
		return true;
	}
	i = fsm_pool_index(f, user_set);
	if (i < 0)
		return false;
	*floor = f->pools[i].floor_epoch;
	return true;
}

bool fsm_user_set_writer_seq(const struct fsm *f, const char *user_set,
			     uint64_t *epoch, uint64_t seq[2])
{
	const uint64_t *s;
	uint64_t e;
	int i;

	if (user_set == NULL)
		return false;
	if (strcmp(user_set, FSM_CMS_USER_SET) == 0) {
		if (f->cms_active[0] == '\0')
			return false;
		e = f->cms_writer_epoch;
		s = f->cms_writer_seq;
	} else {
		i = fsm_pool_index(f, user_set);
		if (i < 0)
			return false;
		e = f->pools[i].writer_epoch;
		s = f->pools[i].writer_seq;
	}
	if (epoch != NULL)
		*epoch = e;
	if (seq != NULL) {
		seq[0] = s[0];
		seq[1] = s[1];
	}
	return true;
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
