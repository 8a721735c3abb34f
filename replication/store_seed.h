/* store_seed: a copy of a user set rebuilt from its owner's store, when
 * the copy here lacks records the owner's outbox no longer holds (a pool
 * that lost its disk, or a copy restored from an old backup).
 *
 * The seed of one (user set, lane) stream, from the owner's position F
 * (the last sequence written or applied at the owner when the seed
 * began):
 *
 *   owner (sender side)                 copy (receiver side)
 *   store_seed_count()  -> totals       store_seed_begin(F, epoch): the
 *                                       copy's items of that lane deleted,
 *                                       a seed row remembers F
 *   store_seed_read(after mark) -> a    store_seed_apply(batch): the item
 *   batch of item states, key order     states written, the mark advanced,
 *   ... until done                      in one transaction
 *                                       store_seed_end(F): applied_seq of
 *                                       the stream = F, the seed row gone
 *   then the live stream: every record with seq > F, from the outbox.
 *
 * Why the result is the owner's copy although each read runs in its own
 * read transaction while the owner keeps writing: every item is read at
 * its state at F or later, and the live stream then applies every record
 * written after F, in order. A record sets a key's whole state (a put, a
 * delete, the chunks of a content item from its offset 0), so applying it
 * to a state that already reflects it changes nothing in the end: each key
 * ends at the owner's latest state. A content chunk at an offset > 0 does
 * not set the whole state: when the copy's item does not continue at its
 * offset, store_apply_batch skips it as superseded if the item is absent
 * or holds a state at or after the record's (epoch, seq) (store.h): the
 * seed read the item after that record, or after the delete or restart
 * that ended its upload. The owner's outbox holds every record
 * after F until the copy acknowledges it: the copy acknowledges nothing of
 * the stream until store_seed_end.
 *
 * Resume. The mark (kind, key, offset of the last item state stored) and F
 * are durable in the copy's seed row, committed with each batch; a seed cut
 * by a kill -9 of either side or a lost link continues after the mark with
 * the same F (store_seed_states reports the seed row), it does not
 * start over.
 *
 * Seed order. LANE_DATA: every kind but KIND_CONTENT, by (kind, key),
 * the kinds in the order profile, contacts, settings, conference, cms,
 * user (their enum values). LANE_CONTENT: KIND_CONTENT items by key, each
 * item as OP_CONTENT_CHUNK records of at most STORE_CONTENT_CHUNK bytes by
 * offset (offset, total as stored; an item whose upload is not complete at
 * the owner is sent as far as it is stored; an empty item as one empty
 * chunk). The mark of a content item names the bytes of it
 * stored so far (offset = end of the last chunk). Keys compare part by
 * part as the store's indexes order them: a conference key as (sip,
 * conf_id), a content key as (sip, conf_id, name), each part bytewise
 * (memcmp, then the shorter first), other keys bytewise.
 *
 * A read after a mark inside a content item continues that item from the
 * mark's offset if the owner now holds more bytes of it than that (the
 * owner may have restarted it since with another total: the chunk then
 * carries the new total and the copy takes it; the live stream after F
 * restarts the item at the copy too), else goes on with the next item.
 *
 * Figures. items: every LANE_DATA record, and every content chunk at
 * offset 0 (an item counts once, with its first record, so a resume after
 * a mark inside an item counts it on neither side again); bytes: key +
 * value bytes of each record. store_seed_figures() gives both for a
 * batch; the seed row's counters add them up as batches are stored.
 *
 * Records of a seed batch carry the item's state, not a change: OP_PUT
 * (OP_DELETE for a disabled KIND_USER; value = home pool in both), or
 * OP_CONTENT_CHUNK; epoch, seq and hlc of the item's last change;
 * user_set and lane of the stream.
 *
 * Threads and callbacks as in store.h (reads on the read connection, the
 * receiver side on the writer queue with group commit). */
#ifndef POOLPAIR_REPLICATION_STORE_SEED_H
#define POOLPAIR_REPLICATION_STORE_SEED_H

#include <stdbool.h>
#include <stdint.h>

#include "replication/store.h"

/* Where a seed stands: the last item state stored (receiver) or read
 * (sender), in seed order. started false: before the first item. */
struct store_seed_mark {
	bool started;
	int kind;		       /* POOLPAIR__REPL__KIND__KIND_* */
	char key[STORE_KEY_MAX + 1];
	uint64_t offset;	       /* content: end of the last chunk */
};

/* ---- owner side (read connection) ------------------------------------ */

struct store_seed_totals {
	uint64_t items; /* items of the stream's lane in the user set */
	uint64_t bytes; /* their key + value bytes (content: stored bytes) */
	const char *errmsg;
};
typedef void (*store_seed_totals_cb)(void *arg, int status,
				     const struct store_seed_totals *t);

/* Count what a seed of (user_set, lane) sends: for progress and ETA.
 * bytes counts a content item's key once (the records of its chunks each
 * carry it), so a seed's bytes end slightly above this figure. */
int store_seed_count(struct store *s, const char *user_set, int lane,
		     store_seed_totals_cb cb, void *arg);

struct store_seed_batch {
	Poolpair__Repl__ChangeRecord **records; /* seed order, borrowed */
	size_t n;
	size_t bytes;		    /* key + value bytes of the records */
	uint64_t items;		    /* items begun in this batch (see
				       Figures above) */
	bool done;		    /* nothing after the last record */
	struct store_seed_mark next; /* mark after the last record */
	const char *errmsg;
};
typedef void (*store_seed_batch_cb)(void *arg, int status,
				    const struct store_seed_batch *b);

/* Item states of (user_set, lane) after *after (NULL or an unstarted mark:
 * from the first), in seed order, read in one read transaction: at most
 * max_records (0: 1024) and about max_bytes (0: 1 MiB; at least one record
 * when any is left). done says nothing is left after the last record. after
 * is copied. Returns STORE_E_INVALID for a mark of a kind the lane does not
 * carry or a malformed key. Never holds more than the batch (and one stored
 * chunk of at most STORE_VALUE_MAX bytes) in memory. */
int store_seed_read(struct store *s, const char *user_set, int lane,
		    const struct store_seed_mark *after, size_t max_records,
		    size_t max_bytes, store_seed_batch_cb cb, void *arg);

/* ---- copy side (writer queue) ---------------------------------------- */

/* Start a seed of (user_set, lane) from the owner's position from_seq
 * (>= 1) under epoch: delete every item of that lane of the user set
 * (never the outbox nor the divergence archive), set the stream's applied
 * position to 0, raise the newest known epoch to epoch, and write the seed
 * row (from_seq, epoch, an unstarted mark, counters 0). A seed row already
 * there with the same from_seq is kept as it is (a resume): nothing is
 * deleted. cb: 0, STORE_E_INVALID (bad name, lane, from_seq 0). */
int store_seed_begin(struct store *s, const char *user_set, int lane,
		     uint64_t from_seq, uint64_t epoch, store_done_cb cb,
		     void *arg);

/* Store a batch of item states (b borrowed for the call) and advance the
 * seed row's mark and counters, in one transaction. Checked, and refused
 * with STORE_E_INVALID and nothing of the batch stored: no seed row for
 * (user_set, lane); a record of another user set or lane, or of a kind
 * the lane does not carry; a record not after the mark in seed order; a
 * content chunk that is not the next bytes of its item (offset other than
 * the mark's offset for the same key, or than 0 for a new key) or that
 * does not fit its total; an op other than the seed ops (OP_PUT, OP_DELETE
 * of KIND_USER with its home pool, OP_CONTENT_CHUNK on LANE_CONTENT); a
 * record store_change_check refuses. An empty batch stores nothing and
 * succeeds. Records of a seed never raise the newest known epoch (one
 * newer than F's would make the records after F stale). cb: 0, or an
 * error. */
int store_seed_apply(struct store *s, const char *user_set, int lane,
		     const Poolpair__Repl__RecordBatch *b, store_done_cb cb,
		     void *arg);

/* Finish the seed of (user_set, lane) started at from_seq: the stream's
 * applied position becomes from_seq and the seed row is deleted, in one
 * transaction. STORE_E_INVALID when no seed row with that from_seq is
 * there. The stream's head and acked positions are left as they are
 * (store_divert_tail archived the copy's own never-shipped tail before
 * this user set was taken from the pair). */
int store_seed_end(struct store *s, const char *user_set, int lane,
		   uint64_t from_seq, store_done_cb cb, void *arg);

/* Figures of a seed batch (see Figures above): what the copy side counts
 * for a batch, and what the owner side sent in it. Either pointer may be
 * NULL. */
void store_seed_figures(const Poolpair__Repl__RecordBatch *b, uint64_t *items,
			uint64_t *bytes);

/* ---- where seeds stand (read connection) ----------------------------- */

struct store_seed_state {
	char user_set[STORE_NAME_MAX];
	int lane;
	uint64_t from_seq;
	uint64_t epoch;
	struct store_seed_mark mark;
	uint64_t items; /* stored so far, over every resume */
	uint64_t bytes;
};

struct store_seed_states {
	const struct store_seed_state *v; /* by user set, lane */
	size_t n;
	const char *errmsg;
};
typedef void (*store_seed_states_cb)(void *arg, int status,
				     const struct store_seed_states *s);

/* Every seed row of this store (seeds begun and not ended). */
int store_seed_states(struct store *s, store_seed_states_cb cb, void *arg);

#endif /* POOLPAIR_REPLICATION_STORE_SEED_H */
