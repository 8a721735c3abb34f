/* fuzz_records: what the batch targets share about decoded RecordBatches. */
#ifndef POOLPAIR_FUZZ_RECORDS_H
#define POOLPAIR_FUZZ_RECORDS_H

#include "replication.pb-c.h"

/* Whether a record of b carries an unknown field numbered 0. protobuf-c
 * 1.4 accepts one written with an overlong tag varint (80 80 80 00), keeps
 * it, packs it back as the one-byte tag 00 and then refuses that: such a
 * batch does not survive re-encoding, through no fault of batch.c. */
static inline int fuzz_has_field_zero(const Poolpair__Repl__RecordBatch *b)
{
	size_t i;
	unsigned j;

	for (i = 0; i < b->n_records; i++) {
		const ProtobufCMessage *m = &b->records[i]->base;

		for (j = 0; j < m->n_unknown_fields; j++) {
			if (m->unknown_fields[j].tag == 0) {
				return 1;
			}
		}
	}
	return 0;
}

#endif /* POOLPAIR_FUZZ_RECORDS_H */
