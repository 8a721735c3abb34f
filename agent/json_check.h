/* json_check: whether bytes are a JSON text as the API takes a value
 * (jansson with JSON_DECODE_ANY | JSON_REJECT_DUPLICATES), without
 * building it. Pure: no I/O, any thread.
 *
 * A one-pass scan decides the common case (objects of up to 32 keys
 * without escapes, strings without \u, numbers without an exponent and of
 * at most 18 integer digits, nesting up to 64); anything else, and every
 * refusal, goes to jansson, whose verdict and message stand. So the scan
 * only ever accepts what jansson accepts. */
#ifndef POOLPAIR_AGENT_JSON_CHECK_H
#define POOLPAIR_AGENT_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* The scan alone: true only when jansson would accept buf[len]; false
 * when it would not, or when the scan cannot tell. */
bool json_check_fast(const void *buf, size_t len);

/* 0 when buf[len] is a JSON text (any value, no duplicate keys), or -1
 * with jansson's message and line in msg[msg_len] (always terminated). */
int json_check(const void *buf, size_t len, char *msg, size_t msg_len);

#endif
