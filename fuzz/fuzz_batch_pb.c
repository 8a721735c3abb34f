/* fuzz_batch_pb: the binary body of POST /v1/users/batch
 * (agent/batch_pb.h, proto/api.proto) and the JSON check of its values
 * (agent/json_check.h).
 *
 * Input: the body as sent.
 * Properties checked:
 *   - batch_pb_decode gives -1 with a terminated, non-empty message, or a
 *     count of at most max whose fields all lie inside the body;
 *   - decoding with room for fewer items than it found is refused;
 *   - when protobuf-c's generated unpack also takes the body, it finds
 *     the same items with the same bytes (its strings end at a NUL);
 *   - a value (and the whole body) that json_check_fast accepts is one
 *     jansson accepts (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES), and
 *     json_check's verdict is always jansson's. */
#include <jansson.h>
#include <string.h>

#include "agent/batch_pb.h"
#include "agent/json_check.h"
#include "api.pb-c.h"
#include "fuzz/fuzz_util.h"

static struct batch_pb_item items[BATCH_PB_MAX_ITEMS];

static int in(const uint8_t *b, size_t len, const void *p, size_t n)
{
	return n == 0 || ((const uint8_t *)p >= b &&
			  (const uint8_t *)p + n <= b + len);
}

static void check_json(const void *p, size_t n)
{
	json_t *v = json_loadb(p != NULL ? p : "", n,
			       JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
	char msg[64];
	int rv;

	if (json_check_fast(p, n))
		FUZZ_CHECK(v != NULL, "the scan accepted what jansson refuses");
	memset(msg, 'x', sizeof msg);
	rv = json_check(p, n, msg, sizeof msg);
	FUZZ_CHECK(rv == (v != NULL ? 0 : -1), "json_check is not jansson");
	FUZZ_CHECK(fuzz_terminated(msg, sizeof msg), "message not terminated");
	json_decref(v);
}

static int same_str(const char *pbc, const char *p, size_t n)
{
	size_t m = strnlen(p != NULL ? p : "", n);

	return strlen(pbc) == m && memcmp(pbc, p != NULL ? p : "", m) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *body = fuzz_dup(data, size);
	char msg[128];
	Poolpair__Api__UserBatch *b;
	int n;

	memset(msg, 'x', sizeof msg);
	n = batch_pb_decode(body, size, items, BATCH_PB_MAX_ITEMS, msg,
			    sizeof msg);
	FUZZ_CHECK(n >= -1 && n <= BATCH_PB_MAX_ITEMS, "count %d", n);
	if (n < 0) {
		FUZZ_CHECK(fuzz_terminated(msg, sizeof msg) && msg[0] != '\0',
			   "refusal without a message");
	}
	for (int i = 0; i < n; i++) {
		FUZZ_CHECK(in(body, size, items[i].sip, items[i].sip_len) &&
			       in(body, size, items[i].kind,
				  items[i].kind_len) &&
			       in(body, size, items[i].value,
				  items[i].value_len),
			   "item %d outside the body", i);
		if (i < 4)
			check_json(items[i].value, items[i].value_len);
	}
	if (n > 1)
		FUZZ_CHECK(batch_pb_decode(body, size, items, (size_t)n - 1,
					   msg, sizeof msg) == -1,
			   "more items than room taken");
	b = poolpair__api__user_batch__unpack(NULL, size, body);
	if (b != NULL && n >= 0) {
		FUZZ_CHECK(b->n_items == (size_t)n, "protobuf-c found %zu, %d",
			   b->n_items, n);
		for (int i = 0; i < n; i++) {
			const Poolpair__Api__UserWrite *w = b->items[i];

			FUZZ_CHECK(same_str(w->sip, items[i].sip,
					    items[i].sip_len) &&
				       same_str(w->kind, items[i].kind,
						items[i].kind_len) &&
				       w->value.len == items[i].value_len &&
				       (w->value.len == 0 ||
					memcmp(w->value.data, items[i].value,
					       w->value.len) == 0),
				   "item %d differs from protobuf-c's", i);
		}
	}
	if (b != NULL)
		poolpair__api__user_batch__free_unpacked(b, NULL);
	check_json(body, size);
	free(body);
	return 0;
}
