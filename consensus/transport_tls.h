/* transport_tls: a raft_uv_transport that carries Raft traffic over TLS 1.3
 * with mutual authentication (tls/tls.h), in place of raft_uv_tcp.
 *
 * Outgoing: resolve the peer, connect TCP, run the TLS handshake (the peer
 * must hold role agent, and its certificate must name the agent raft dials:
 * tls_cert_agent() == the raft id, else the link is closed, so an address
 * diverted to another agent cannot pose as a voter), send the handshake
 * raft_uv_tcp would send (protocol 1, our id, our address) and wait for
 * the peer's acknowledgement; then raft
 * receives one end of a socketpair (a uv_pipe_t allocated with raft_malloc,
 * which raft closes and frees) while a bridge pumps bytes between the other
 * end and the TLS connection.
 *
 * Incoming: accept TCP, run the handshake (role agent required), read the
 * peer's id and address, acknowledge, and hand raft the plaintext end
 * through the accept callback, exactly as raft_uv_tcp hands it the TCP
 * stream. The id the peer claims must be the agent its certificate names
 * (a certificate naming no agent speaks for none): else the link is
 * closed before raft sees it, with a warning naming the address, the CN,
 * the id claimed and the agent the certificate names.
 *
 * With require false, an incoming peer that does not start a TLS handshake
 * is accepted as plain raft_uv_tcp (for a rolling migration; a warning is
 * logged) and its id is taken as sent: a plain peer proves nothing;
 * outgoing links always use TLS.
 *
 * Every refused or failed link is reported through the log callback with
 * the peer and the reason ("refused 127.0.0.1:41234: peer certificate
 * from an unknown CA (CN=rogue)"). Loop thread only. */
#ifndef POOLPAIR_TRANSPORT_TLS_H
#define POOLPAIR_TRANSPORT_TLS_H

#include <raft.h>
#include <raft/uv.h>
#include <stdbool.h>
#include <uv.h>

#include "tls/tls.h"

/* Limits on incoming links, so that anonymous connections cannot lock
 * real peers out of the Raft port:
 *
 * - an incoming link that has not completed its TLS handshake and its
 *   Raft hello within the deadline (handshake_ms, counted from accept) is
 *   closed; so is an outgoing one without the peer's acknowledgement
 *   within the same time from the TCP connect. A real peer needs a few
 *   round trips; a silent one holds a slot for this long at most.
 * - at most TRANSPORT_TLS_PENDING_PER_ADDR incoming links from one address
 *   may be in their handshakes: the next one is closed at once.
 * - at most TRANSPORT_TLS_PENDING in all: a new one then takes the place of
 *   the oldest link of the address holding the most of them (a flood from
 *   a few addresses evicts its own links, not a peer's single one).
 * - at most TRANSPORT_TLS_LINKS_IN authenticated incoming links (hello
 *   done, handed to raft); only those count against it.
 *
 * Every refusal is logged as a warning, once a minute per kind and peer
 * address (with a count of the ones left out). */
#define TRANSPORT_TLS_DEADLINE_MS 5000
#define TRANSPORT_TLS_PENDING_PER_ADDR 8
#define TRANSPORT_TLS_PENDING 32
#define TRANSPORT_TLS_LINKS_IN 64

/* Receives one line (borrowed, no newline); warn: false for routine events
 * (a link up), true for failures. */
typedef void (*transport_tls_log_fn)(void *arg, bool warn, const char *msg);

struct transport_tls_config {
	struct tls_ctx *ctx;	  /* borrowed; outlives the transport */
	bool require;		  /* refuse peers that do not speak TLS */
	unsigned handshake_ms;	  /* deadline of a link's TLS handshake and
				     hello (see above); 0:
				     TRANSPORT_TLS_DEADLINE_MS */
	transport_tls_log_fn log; /* may be NULL */
	void *log_arg;
};

/* Fill t (t->version must be 1 already; t->data is left alone) with this
 * transport. cfg is copied; cfg->ctx must stay valid until
 * transport_tls_close(). Returns 0 or RAFT_NOMEM / RAFT_INVALID (positive
 * raft codes, as raft_uv_tcp_init) with nothing to release. */
int transport_tls_init(struct raft_uv_transport *t, uv_loop_t *loop,
		       const struct transport_tls_config *cfg);

/* Release the memory of the transport. Only after raft closed it (the close
 * method's callback fired) or when it never listened nor connected. */
void transport_tls_close(struct raft_uv_transport *t);

/* Links currently up (bridged), for status and tests. */
unsigned transport_tls_links(struct raft_uv_transport *t);

#endif
