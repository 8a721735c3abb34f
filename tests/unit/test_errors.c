/* Tests of the error-code convention (README, "Error codes"): every layer
 * returns negative codes from a range of its own, documented in its
 * header; no two layers' ranges overlap, and none holds a code of libuv's
 * (which the layers pass through). Each layer's codes are collected here
 * by name, checked against its range, and each has a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <raft.h>
#include <uv.h>

#include "agent/config.h"
#include "agent/dataplane.h"
#include "agent/proposer.h"
#include "agent/route.h"
#include "consensus/cmd.h"
#include "consensus/node.h"
#include "consensus/placement.h"
#include "replication/batch.h"
#include "replication/frame.h"
#include "replication/store.h"
#include "replication/stream_common.h"
#include "tls/tls.h"

struct layer {
	const char *name;
	int hi, lo; /* the range: hi >= code >= lo */
	const int *codes;
	size_t n;
	const char *(*strerror)(int rv); /* NULL: none of its own */
	const char *unknown;		 /* its message for a code not its */
};

static const int config_codes[] = {
    CONFIG_E_IO,	CONFIG_E_NOMEM,	   CONFIG_E_SYNTAX,   CONFIG_E_UNKNOWN,
    CONFIG_E_DUPLICATE, CONFIG_E_MISSING,  CONFIG_E_CONFLICT, CONFIG_E_INVALID,
    CONFIG_E_EMPTY,	CONFIG_E_TOO_LONG, CONFIG_E_NEGATIVE, CONFIG_E_OVERFLOW,
    CONFIG_E_RANGE,	CONFIG_E_NO_PORT,  CONFIG_E_BAD_PORT, CONFIG_E_BAD_HOST,
    CONFIG_E_MOVED,
};
static const int frame_codes[] = {
    FRAME_E_HEADER_CRC, FRAME_E_PAYLOAD_CRC, FRAME_E_TOO_LARGE,
    FRAME_E_VERSION,	FRAME_E_TYPE,	     FRAME_E_NOMEM,
    FRAME_E_FLAGS,	FRAME_E_ARG,	     FRAME_E_BUSY,
};
static const int batch_codes[] = {
    BATCH_E_ARG,   BATCH_E_NOMEM, BATCH_E_TOO_LARGE, BATCH_E_CORRUPT,
    BATCH_E_PROTO, BATCH_E_FLAGS, BATCH_E_INVALID,   BATCH_E_DICT,
    BATCH_E_BUDGET,
};
static const int store_codes[] = {
    STORE_E_STALE_EPOCH, STORE_E_GAP,	  STORE_E_FULL,
    STORE_E_IO,		 STORE_E_NOMEM,	  STORE_E_CORRUPT,
    STORE_E_NOT_FOUND,	 STORE_E_CLOSING, STORE_E_INVALID,
    STORE_E_RESERVE,
};
static const int stream_codes[] = {
    STREAM_E_ARG,
    STREAM_E_NOMEM,
    STREAM_E_CLOSING,
    STREAM_E_NOT_FOUND,
};
static const int placement_codes[] = {
    PLACEMENT_ERR_ARG,	      PLACEMENT_ERR_TOO_MANY,
    PLACEMENT_ERR_MAX_VOTERS, PLACEMENT_ERR_ID,
    PLACEMENT_ERR_DUPLICATE,  PLACEMENT_ERR_ROLE,
    PLACEMENT_ERR_SITE,	      PLACEMENT_ERR_NO_LEADER,
    PLACEMENT_ERR_LEADERS,    PLACEMENT_ERR_LEADER_ROLE,
};
static const int node_codes[] = {
    NODE_E_NOT_LEADER,	NODE_E_UNKNOWN,	       NODE_E_CLOSING,
    NODE_E_BUSY,	PROPOSER_E_NOT_LEADER, PROPOSER_E_UNKNOWN,
    PROPOSER_E_CLOSING, PROPOSER_E_BUSY,
};
static int raft_codes[RAFT_TOOMANY]; /* node_raft_err(1..RAFT_TOOMANY) */
static const int cmd_codes[] = {CMD_E_NOMEM, CMD_E_INVALID};
static const int route_codes[] = {
    ROUTE_E_NOT_FOUND, ROUTE_E_METHOD, ROUTE_E_BAD_PARAM,
    ROUTE_E_BAD_TABLE, ROUTE_E_NOMEM,
};
static const int dataplane_codes[] = {DATAPLANE_E_NOT_OWNER,
				      DATAPLANE_E_NOT_NOW};
static const int tls_codes[] = {
    TLS_E_CONFIG,	 TLS_E_NOMEM,	 TLS_E_UNKNOWN_CA, TLS_E_EXPIRED,
    TLS_E_NOT_YET_VALID, TLS_E_NO_CERT,	 TLS_E_REFUSED,	   TLS_E_NOT_TLS,
    TLS_E_ROLE,		 TLS_E_PROTOCOL, TLS_E_TIMEOUT,	   TLS_E_EOF,
    TLS_E_STATE,	 TLS_E_CLOSING,
};

#define XX(code, _) UV_##code,
static const int uv_codes[] = {UV_ERRNO_MAP(XX)};
#undef XX

static const char *raft_message(int rv) { return node_strerror(rv); }

#define LAYER(name, hi, lo, codes, fn, unknown)                                \
	{                                                                      \
		name, hi, lo, codes, sizeof codes / sizeof codes[0], fn,       \
		    unknown                                                    \
	}

static const struct layer layers[] = {
    LAYER("tls", -3101, -3199, tls_codes, tls_strerror, NULL),
    LAYER("stream", -5001, -5099, stream_codes, stream_strerror, NULL),
    LAYER("config", -5101, -5199, config_codes, config_strerror,
	  "unknown error"),
    LAYER("frame", -5201, -5299, frame_codes, frame_strerror,
	  "unknown frame error"),
    LAYER("batch", -5301, -5399, batch_codes, batch_strerror,
	  "unknown batch error"),
    LAYER("store", -5401, -5499, store_codes, store_strerror, "unknown error"),
    LAYER("placement", -5501, -5599, placement_codes, placement_strerror,
	  "unknown error"),
    LAYER("node", -5601, -5699, node_codes, node_strerror, NULL),
    LAYER("raft", -5701, -5799, raft_codes, raft_message, NULL),
    LAYER("cmd", -5801, -5899, cmd_codes, cmd_strerror, "unknown error"),
    LAYER("route", -5901, -5999, route_codes, NULL, NULL),
    LAYER("dataplane", -6001, -6099, dataplane_codes, NULL, NULL),
};
#define N_LAYERS (sizeof layers / sizeof layers[0])

static void in_their_ranges(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_LAYERS; i++) {
		const struct layer *l = &layers[i];

		assert_true(l->n > 0);
		for (size_t k = 0; k < l->n; k++) {
			int c = l->codes[k];

			if (c > l->hi || c < l->lo)
				fail_msg("%s code %d outside %d..%d", l->name,
					 c, l->hi, l->lo);
			/* codes of one layer are distinct (the node's and the
			 * proposer's are the same codes) */
			for (size_t m = 0; m < k; m++)
				if (l->codes[m] == c &&
				    strcmp(l->name, "node") != 0)
					fail_msg("%s code %d twice", l->name,
						 c);
		}
	}
}

static void ranges_do_not_overlap(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_LAYERS; i++)
		for (size_t j = 0; j < i; j++) {
			const struct layer *a = &layers[i], *b = &layers[j];

			if (a->lo <= b->hi && b->lo <= a->hi)
				fail_msg("the ranges of %s and %s overlap",
					 a->name, b->name);
		}
}

static void clear_of_libuv(void **state)
{
	(void)state;
	assert_true(sizeof uv_codes / sizeof uv_codes[0] > 50);
	for (size_t i = 0; i < N_LAYERS; i++)
		for (size_t k = 0; k < layers[i].n; k++)
			for (size_t u = 0;
			     u < sizeof uv_codes / sizeof uv_codes[0]; u++)
				if (layers[i].codes[k] == uv_codes[u])
					fail_msg("%s code %d is libuv's %s",
						 layers[i].name,
						 layers[i].codes[k],
						 uv_err_name(uv_codes[u]));
	/* every layer but tls lies below all of libuv's codes */
	for (size_t u = 0; u < sizeof uv_codes / sizeof uv_codes[0]; u++)
		assert_true(uv_codes[u] > -5000);
}

static void each_has_a_message(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_LAYERS; i++) {
		const struct layer *l = &layers[i];

		if (l->strerror == NULL)
			continue;
		for (size_t k = 0; k < l->n; k++) {
			const char *m = l->strerror(l->codes[k]);

			assert_non_null(m);
			assert_true(m[0] != '\0');
			if (l->unknown != NULL && strcmp(m, l->unknown) == 0)
				fail_msg("%s code %d has no message", l->name,
					 l->codes[k]);
		}
		/* and another layer's code is not taken for one of its own */
		if (l->unknown != NULL)
			assert_string_equal(l->strerror(l->hi + 1), l->unknown);
	}
	/* raft codes go through the node's mapping and back */
	assert_string_equal(node_strerror(node_raft_err(RAFT_NOMEM)),
			    raft_strerror(RAFT_NOMEM));
	assert_int_equal(node_raft_err(0), 0);
}

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < RAFT_TOOMANY; i++)
		raft_codes[i] = node_raft_err(i + 1);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(in_their_ranges),
	    cmocka_unit_test(ranges_do_not_overlap),
	    cmocka_unit_test(clear_of_libuv),
	    cmocka_unit_test(each_has_a_message),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
