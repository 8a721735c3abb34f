/* batch_pb: the binary body of POST /v1/users/batch, a packed
 * poolpair.api.UserBatch (proto/api.proto), decoded in place: each item's
 * fields point into the body, nothing is copied or allocated. Pure: no
 * I/O, any thread.
 *
 * Decoding follows the protobuf wire format as protobuf-c's unpack does
 * for this message: fields in any order, a field given twice takes the
 * last value, unknown fields (varint, fixed32, fixed64, length-delimited)
 * are skipped, an absent field is empty. Refused, with a message: a
 * truncated or overlong varint, a length past the end, a known field with
 * another wire type, a group or a wire type that does not exist, field
 * number 0, more than max items. What the fields say (a valid SIP URI, a
 * kind, a JSON value) is the caller's to check. */
#ifndef POOLPAIR_AGENT_BATCH_PB_H
#define POOLPAIR_AGENT_BATCH_PB_H

#include <stddef.h>
#include <stdint.h>

#define BATCH_PB_MAX_ITEMS 1000
#define BATCH_PB_CONTENT_TYPE "application/x-protobuf"

/* One UserWrite; every pointer borrows the decoded buffer (NULL with
 * length 0 when the field is absent). */
struct batch_pb_item {
	const char *sip;
	size_t sip_len;
	const char *kind;
	size_t kind_len;
	const uint8_t *value;
	size_t value_len;
};

/* Decode the len bytes at buf into items[0..max-1]. Returns the number of
 * items (0 for an empty message), or -1 with a lowercase message in
 * msg[msg_len] (always terminated; items[] then partly written). */
int batch_pb_decode(const void *buf, size_t len, struct batch_pb_item *items,
		    size_t max, char *msg, size_t msg_len);

/* Whether the Content-Type value ct (may be NULL) names the binary body:
 * application/x-protobuf, any case, parameters after ';' ignored. */
int batch_pb_content_type(const char *ct);

#endif
