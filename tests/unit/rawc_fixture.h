/* rawc_fixture: a hand-made replication peer over TCP on loopback, for the
 * tests of what a receiver answers (test_stream.c, test_receiver_guard.c):
 * it connects (from a given address or any), sends pool-east's HELLO for
 * its data lane or frames of its own, and counts what comes back. */
#ifndef POOLPAIR_TESTS_RAWC_FIXTURE_H
#define POOLPAIR_TESTS_RAWC_FIXTURE_H

#include <stdint.h>

#include <uv.h>

#include "replication/frame.h"

struct rawc {
	uv_tcp_t tcp;
	uv_connect_t creq;
	struct frame_decoder dec;
	char buf[16384];
	int connected, eof, closed;
	int hellos, acks, errors;
	int hello_dict;	 /* the last HELLO's lz4_dict */
	char error[256]; /* the last ERROR frame's text */
};

/* Run loop until *flag (a counter of a rawc) is not 0 or timeout_ms
 * passed; whether it is not 0. */
int rawc_wait(uv_loop_t *loop, const int *flag, unsigned timeout_ms);
/* Connect c (zeroed first) on loop to 127.0.0.1:port from the address
 * from (NULL: any), sending nothing; the test fails unless it is
 * connected within 5 s. */
void rawc_connect(uv_loop_t *loop, struct rawc *c, int port,
		  const char *from);
/* Send on c the HELLO of agent agent_id for pool-east's data lane (epoch
 * 1) to pool-west, offering the dictionary mode or not. */
void rawc_hello(struct rawc *c, uint64_t agent_id, int offer_dict);
/* rawc_connect, rawc_hello, then the receiver's HELLO within 5 s. */
void rawc_open(uv_loop_t *loop, struct rawc *c, int port, uint64_t agent_id,
	       int offer_dict);
/* Close c (unless closing already) and run loop until it is closed. */
void rawc_close(uv_loop_t *loop, struct rawc *c);

#endif
