/* tcp_thin: the socket options of every link between agents (Raft, the
 * replication data links, HTTP between agents).
 *
 * These links carry thin streams: a heartbeat, a vote, an append, a batch
 * acknowledgement, rarely more than a few segments in flight. A lost
 * segment of a thin stream is recovered only by the retransmission timer
 * (too few segments follow it for fast retransmit), and Linux doubles that
 * timer with each loss, so on a lossy WAN one connection can stall for
 * seconds. TCP_THIN_LINEAR_TIMEOUTS (tcp(7)) keeps the timer linear for
 * the first retransmissions while fewer than four segments are in flight;
 * TCP_NODELAY sends each small message at once. */
#ifndef POOLPAIR_TLS_TCP_THIN_H
#define POOLPAIR_TLS_TCP_THIN_H

#include <uv.h>

/* Set TCP_NODELAY and TCP_THIN_LINEAR_TIMEOUTS on the TCP socket fd.
 * Returns 0, or a negative errno of the first setsockopt that failed (the
 * other option is still tried). Before or after connect. */
int tcp_thin_set(int fd);

/* The same on a libuv TCP handle whose socket exists (accepted,
 * connecting or connected); UV_EBADF when it has none yet. */
int tcp_thin_set_uv(uv_tcp_t *tcp);

#endif
