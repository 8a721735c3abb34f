/* transport_tls: Raft's links over TLS 1.3 (see transport_tls.h): the
 * transport and raft's methods on it, the incoming and outgoing
 * handshakes (TLS, then raft_uv_tcp's hello), and the log. A link's life
 * and its bridge are in transport_tls_link.c. */
#include "consensus/transport_tls.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "consensus/transport_tls_internal.h"

/* The key of a warning: the message without the ephemeral port of an
 * incoming peer ("refused 10.0.0.9:41234: ..." -> "refused 10.0.0.9: ..."). */
static void quiet_key(const char *msg, char *key, size_t len)
{
	static const char *const prefixes[] = {
	    "refused ", "accepting a plain connection from "};
	const char *addr = NULL, *end, *colon;

	snprintf(key, len, "%s", msg);
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
		if (strncmp(msg, prefixes[i], strlen(prefixes[i])) == 0)
			addr = msg + strlen(prefixes[i]);
	if (addr == NULL)
		return;
	end = addr + strcspn(addr, " ");
	if (end > addr && end[-1] == ':')
		end--;
	colon = end;
	while (colon > addr && colon[-1] >= '0' && colon[-1] <= '9')
		colon--;
	if (colon == end || colon == addr || colon[-1] != ':')
		return;
	snprintf(key, len, "%.*s%s", (int)(colon - 1 - msg), msg, end);
}

/* Whether to log msg now; *quiet receives how many were left out. */
static bool quiet_pass(struct transport *tr, const char *msg, unsigned *quiet)
{
	uint64_t now = uv_now(tr->loop);
	char key[256];
	unsigned oldest = 0;

	quiet_key(msg, key, sizeof key);
	*quiet = 0;
	for (unsigned i = 0; i < QUIET_SLOTS; i++) {
		if (strcmp(tr->quiet[i].key, key) == 0) {
			if (now - tr->quiet[i].last_ms < QUIET_MS) {
				tr->quiet[i].quiet++;
				return false;
			}
			*quiet = tr->quiet[i].quiet;
			tr->quiet[i].quiet = 0;
			tr->quiet[i].last_ms = now;
			return true;
		}
		if (tr->quiet[i].last_ms < tr->quiet[oldest].last_ms)
			oldest = i;
	}
	snprintf(tr->quiet[oldest].key, sizeof tr->quiet[oldest].key, "%s",
		 key);
	tr->quiet[oldest].last_ms = now;
	tr->quiet[oldest].quiet = 0;
	return true;
}

void transport_log(struct transport *tr, bool warn, const char *fmt, ...)
{
	char msg[512];
	unsigned quiet = 0;
	size_t n;
	va_list ap;

	if (tr->cfg.log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (warn && !quiet_pass(tr, msg, &quiet))
		return;
	n = strlen(msg);
	if (quiet > 0 && n < sizeof msg)
		snprintf(msg + n, sizeof msg - n,
			 " (and %u more like it in the last minute)", quiet);
	tr->cfg.log(tr->cfg.log_arg, warn, msg);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Split "host:port" / "[v6]:port". Returns 0 or -1. */
static int split_address(const char *a, char *host, size_t hlen, char *port,
			 size_t plen)
{
	const char *colon;
	size_t n;

	if (a[0] == '[') {
		const char *end = strchr(a, ']');

		if (end == NULL || end[1] != ':')
			return -1;
		n = (size_t)(end - a - 1);
		if (n == 0 || n >= hlen)
			return -1;
		memcpy(host, a + 1, n);
		host[n] = '\0';
		colon = end + 1;
	} else {
		colon = strrchr(a, ':');
		if (colon == NULL)
			return -1;
		n = (size_t)(colon - a);
		if (n == 0 || n >= hlen)
			return -1;
		memcpy(host, a, n);
		host[n] = '\0';
	}
	if (strlen(colon + 1) == 0 || strlen(colon + 1) >= plen ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	snprintf(port, plen, "%s", colon + 1);
	return 0;
}

/* ---- the transport's end ---- */

void transport_maybe_closed(struct transport *tr)
{
	if (tr->state != TRANSPORT_CLOSING || tr->links != NULL ||
	    tr->listener_open)
		return;
	tr->state = TRANSPORT_CLOSED;
	if (tr->close_cb != NULL)
		tr->close_cb(tr->t);
}

/* ---- incoming ---- */

static void in_hand_over(struct link *l, const char *rest, size_t nrest)
{
	struct transport *tr = l->tr;
	uv_stream_t *theirs;
	int rv;

	if (tr->bridged_in >= TRANSPORT_TLS_LINKS_IN) {
		transport_log(tr, true,
			      "refused %s (id %llu, CN=%s): %u raft links from "
			      "peers already up",
			      transport_link_peer(l),
			      (unsigned long long)l->peer_id,
			      l->conn.state == TLS_CONN_PLAIN
				  ? "-"
				  : l->conn.peer_identity,
			      TRANSPORT_TLS_LINKS_IN);
		transport_link_close(l);
		return;
	}
	if (!l->conn.allow_plain || l->conn.state == TLS_CONN_OPEN) {
		uint8_t ack[HELLO_ACK];
		uv_buf_t b = uv_buf_init((char *)ack, sizeof ack);

		put64(ack, 1);
		rv = tls_conn_write(&l->conn, &b, 1, NULL, NULL);
		if (rv != 0) {
			transport_log(tr, true, "refused %s: ack: %s",
				      transport_link_peer(l), tls_strerror(rv));
			transport_link_close(l);
			return;
		}
	}
	rv = transport_link_bridge(l, &theirs);
	if (rv != 0) {
		transport_log(tr, true, "refused %s: socketpair: %s",
			      transport_link_peer(l), uv_strerror(rv));
		transport_link_close(l);
		return;
	}
	if (nrest > 0 && transport_link_to_raft(l, rest, nrest) != 0) {
		uv_close((uv_handle_t *)theirs, (uv_close_cb)raft_free);
		transport_link_close(l);
		return;
	}
	transport_log(tr, false, "link from %s (id %llu, %s, CN=%s) up",
		      transport_link_peer(l), (unsigned long long)l->peer_id,
		      l->conn.state == TLS_CONN_PLAIN ? "plain" : "tls",
		      l->conn.state == TLS_CONN_PLAIN ? "-"
						      : l->conn.peer_identity);
	tr->accept_cb(tr->t, l->peer_id, l->peer_address, theirs);
}

/* With TLS, the id the hello claims must be the agent the peer's
 * certificate names (a certificate naming none speaks for no one); else
 * the link is refused and closed before raft sees it. A plain peer
 * ([tls] require = false) has nothing to check. */
static bool in_identity_ok(struct link *l)
{
	if (l->conn.state == TLS_CONN_PLAIN)
		return true;
	if (l->conn.peer_agent != 0 && l->conn.peer_agent == l->peer_id)
		return true;
	if (l->conn.peer_agent == 0)
		transport_log(l->tr, true,
			      "refused %s: raft handshake claims id %llu, "
			      "certificate names no agent (CN=%s)",
			      transport_link_peer(l),
			      (unsigned long long)l->peer_id,
			      l->conn.peer_identity);
	else
		transport_log(l->tr, true,
			      "refused %s: raft handshake claims id %llu, "
			      "certificate names agent %llu (CN=%s)",
			      transport_link_peer(l),
			      (unsigned long long)l->peer_id,
			      (unsigned long long)l->conn.peer_agent,
			      l->conn.peer_identity);
	transport_link_close(l);
	return false;
}

/* Accumulate the peer's hello; the rest goes to raft after hand-over. */
static void in_feed(struct link *l, const char *data, size_t n)
{
	while (n > 0 && l->state == LINK_HELLO) {
		size_t take = l->need - l->have;

		if (take > n)
			take = n;
		memcpy(l->hello + l->have, data, take);
		l->have += take;
		data += take;
		n -= take;
		if (l->have < l->need)
			return;
		if (l->need == HELLO_PREAMBLE) {
			uint64_t proto = get64(l->hello);
			uint64_t len = get64(l->hello + 16);

			if (proto != HELLO_PROTOCOL || len == 0 ||
			    len > HELLO_ADDR_MAX) {
				transport_log(l->tr, true,
					      "refused %s: bad raft handshake",
					      transport_link_peer(l));
				transport_link_close(l);
				return;
			}
			l->need = HELLO_PREAMBLE + (size_t)len;
			continue;
		}
		l->peer_id = get64(l->hello + 8);
		memcpy(l->peer_address, l->hello + HELLO_PREAMBLE,
		       l->need - HELLO_PREAMBLE);
		l->peer_address[l->need - HELLO_PREAMBLE - 1] = '\0';
		if (!in_identity_ok(l))
			return;
		in_hand_over(l, data, n);
		return;
	}
	if (n > 0 && l->state == LINK_BRIDGE &&
	    transport_link_to_raft(l, data, n) != 0)
		transport_link_close(l);
}

static void on_link_read(struct tls_conn *c, ssize_t n, const char *data);

static void on_in_handshake(struct tls_conn *c, int status)
{
	struct link *l = c->data;

	if (status != 0) {
		transport_log(l->tr, true, "refused %s: %s",
			      transport_link_peer(l), c->errmsg);
		transport_link_close(l);
		return;
	}
	if (c->state == TLS_CONN_PLAIN)
		transport_log(l->tr, true,
			      "accepting a plain connection from %s "
			      "([tls] require = false)",
			      transport_link_peer(l));
	l->state = LINK_HELLO;
	l->have = 0;
	l->need = HELLO_PREAMBLE;
}

/* Incoming links of tr from ip still in their handshakes, l aside. */
static unsigned pending_from(struct transport *tr, const char *ip,
			     const struct link *l)
{
	unsigned n = 0;

	for (struct link *o = tr->links; o != NULL; o = o->next)
		if (o != l && o->dir == LINK_IN &&
		    (o->state == LINK_TLS || o->state == LINK_HELLO) &&
		    strcmp(o->from_ip, ip) == 0)
			n++;
	return n;
}

/* Every place for links in their handshakes is taken: close the oldest
 * link of the address that holds the most of them (l, the newcomer,
 * aside), so a flood evicts its own links rather than a peer's one. */
static void make_room(struct transport *tr, struct link *l)
{
	struct link *victim = NULL;
	unsigned most = 0;

	for (struct link *o = tr->links; o != NULL; o = o->next) {
		unsigned n;

		if (o == l || o->dir != LINK_IN ||
		    (o->state != LINK_TLS && o->state != LINK_HELLO))
			continue;
		n = pending_from(tr, o->from_ip, NULL);
		/* the list is newest first: "<=" ends on the oldest */
		if (victim == NULL || n > most ||
		    (n == most && o->since_ms <= victim->since_ms)) {
			most = n;
			victim = o;
		}
	}
	if (victim == NULL)
		return;
	transport_log(tr, true,
		      "refused %s: closed for a newer connection: %u already "
		      "in their handshakes, %u of them from %s",
		      transport_link_peer(victim), TRANSPORT_TLS_PENDING, most,
		      victim->from_ip);
	transport_link_close(victim);
}

/* The TCP peer of a just-accepted l into l->from and l->from_ip. */
static void link_from(struct link *l)
{
	struct sockaddr_storage ss;
	int len = sizeof ss, port = 0;

	snprintf(l->from_ip, sizeof l->from_ip, "?");
	if (uv_tcp_getpeername(&l->conn.tcp, (struct sockaddr *)&ss, &len) ==
	    0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			uv_ip4_name(in, l->from_ip, sizeof l->from_ip);
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

			uv_ip6_name(in6, l->from_ip, sizeof l->from_ip);
			port = ntohs(in6->sin6_port);
		}
	}
	snprintf(l->from, sizeof l->from, "%s:%d", l->from_ip, port);
}

static void on_accept(uv_stream_t *server, int status)
{
	struct transport *tr = server->data;
	struct link *l;
	unsigned from;
	int rv;

	if (status != 0 || tr->state != TRANSPORT_LISTENING)
		return;
	l = transport_link_new(tr, LINK_IN);
	if (l == NULL)
		return;
	l->state = LINK_TLS;
	tr->pending_in++;
	rv = tls_conn_init(&l->conn, tr->loop, tr->cfg.ctx, TLS_SERVER,
			   TLS_ROLE_AGENT);
	if (rv != 0) {
		transport_log(tr, true, "accept: %s", l->conn.errmsg);
		transport_link_close(l);
		return;
	}
	l->conn.data = l;
	l->conn_open = true;
	rv = uv_accept(server, (uv_stream_t *)&l->conn.tcp);
	if (rv != 0) {
		transport_log(tr, true, "accept: %s", uv_strerror(rv));
		transport_link_close(l);
		return;
	}
	l->since_ms = uv_now(tr->loop);
	link_from(l);
	/* silent peers must neither pile up nor lock real ones out */
	from = pending_from(tr, l->from_ip, l);
	if (from >= TRANSPORT_TLS_PENDING_PER_ADDR) {
		transport_log(tr, true,
			      "refused %s: %u connections from %s already in "
			      "their handshakes",
			      l->from, from, l->from_ip);
		transport_link_close(l);
		return;
	}
	if (tr->pending_in > TRANSPORT_TLS_PENDING)
		make_room(tr, l);
	tls_conn_allow_plain(&l->conn, !tr->cfg.require);
	tls_conn_set_timeout(&l->conn, 0); /* the link's deadline covers it */
	rv = transport_link_deadline(l);
	if (rv == 0)
		rv = tls_conn_start(&l->conn, on_in_handshake, on_link_read);
	if (rv != 0) {
		transport_log(tr, true, "accept: %s", uv_strerror(rv));
		transport_link_close(l);
	}
}

/* ---- outgoing ---- */

static void out_hand_over(struct link *l, const char *rest, size_t nrest)
{
	struct raft_uv_connect *req = l->req;
	raft_uv_connect_cb cb = l->req_cb;
	uv_stream_t *theirs;
	int rv;

	rv = transport_link_bridge(l, &theirs);
	if (rv != 0) {
		transport_log(l->tr, true, "connect %s: socketpair: %s",
			      l->peer_address, uv_strerror(rv));
		transport_link_close(l);
		return;
	}
	if (nrest > 0 && transport_link_to_raft(l, rest, nrest) != 0) {
		uv_close((uv_handle_t *)theirs, (uv_close_cb)raft_free);
		transport_link_close(l);
		return;
	}
	l->req = NULL;
	l->req_cb = NULL;
	transport_log(l->tr, false, "link to %s (id %llu, CN=%s) up",
		      l->peer_address, (unsigned long long)l->peer_id,
		      l->conn.peer_identity);
	cb(req, theirs, 0);
}

static void out_feed(struct link *l, const char *data, size_t n)
{
	if (l->state == LINK_HELLO) {
		size_t take = HELLO_ACK - l->have;

		if (take > n)
			take = n;
		memcpy(l->hello + l->have, data, take);
		l->have += take;
		data += take;
		n -= take;
		if (l->have < HELLO_ACK)
			return;
		if (get64(l->hello) != 1) {
			transport_log(l->tr, true,
				      "connect %s: peer refused us",
				      l->peer_address);
			transport_link_close(l);
			return;
		}
		out_hand_over(l, data, n);
		return;
	}
	if (n > 0 && l->state == LINK_BRIDGE &&
	    transport_link_to_raft(l, data, n) != 0)
		transport_link_close(l);
}

static void on_link_read(struct tls_conn *c, ssize_t n, const char *data)
{
	struct link *l = c->data;

	if (n < 0) {
		if (l->state == LINK_HELLO)
			transport_log(l->tr, true, "%s %s: %s",
				      l->dir == LINK_OUT ? "connect"
							 : "refused",
				      transport_link_peer(l),
				      n == TLS_E_EOF && l->dir == LINK_OUT
					  ? "peer closed the connection before "
					    "accepting us"
					  : c->errmsg);
		else if (l->state == LINK_BRIDGE && n != TLS_E_EOF)
			transport_log(l->tr, true, "link %s: %s",
				      transport_link_peer(l), c->errmsg);
		transport_link_close(l);
		return;
	}
	if (l->dir == LINK_OUT)
		out_feed(l, data, (size_t)n);
	else
		in_feed(l, data, (size_t)n);
}

static void on_out_handshake(struct tls_conn *c, int status)
{
	struct link *l = c->data;
	struct transport *tr = l->tr;
	size_t alen = strlen(tr->address) + 1;
	uint8_t hello[HELLO_PREAMBLE + HELLO_ADDR_MAX];
	uv_buf_t b;
	int rv;

	if (status != 0) {
		transport_log(tr, true, "connect %s: %s", l->peer_address,
			      c->errmsg);
		transport_link_close(l);
		return;
	}
	/* the server must speak for the voter raft dials: an address
	 * diverted to another agent cannot pose as it */
	if (c->peer_agent == 0 || c->peer_agent != l->peer_id) {
		char names[48];

		if (c->peer_agent == 0)
			snprintf(names, sizeof names, "no agent");
		else
			snprintf(names, sizeof names, "agent %llu",
				 (unsigned long long)c->peer_agent);
		transport_log(tr, true,
			      "connect %s: server certificate names %s "
			      "(CN=%s), not raft id %llu",
			      l->peer_address, names, c->peer_identity,
			      (unsigned long long)l->peer_id);
		transport_link_close(l);
		return;
	}
	alen = (alen + 7) & ~(size_t)7;
	memset(hello, 0, sizeof hello);
	put64(hello, HELLO_PROTOCOL);
	put64(hello + 8, tr->id);
	put64(hello + 16, alen);
	memcpy(hello + HELLO_PREAMBLE, tr->address, strlen(tr->address));
	b = uv_buf_init((char *)hello, (unsigned)(HELLO_PREAMBLE + alen));
	rv = tls_conn_write(c, &b, 1, NULL, NULL);
	if (rv != 0) {
		transport_log(tr, true, "connect %s: %s", l->peer_address,
			      tls_strerror(rv));
		transport_link_close(l);
		return;
	}
	l->state = LINK_HELLO;
	l->have = 0;
}

static void on_connected(uv_connect_t *req, int status)
{
	struct link *l = req->data;
	int rv;

	if (l->state != LINK_CONNECT)
		return; /* closed meanwhile */
	if (status != 0) {
		transport_link_close(l);
		return;
	}
	l->state = LINK_TLS;
	rv = transport_link_deadline(l);
	if (rv == 0)
		rv = tls_conn_start(&l->conn, on_out_handshake, on_link_read);
	if (rv != 0) {
		transport_log(l->tr, true, "connect %s: %s", l->peer_address,
			      uv_strerror(rv));
		transport_link_close(l);
	}
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct link *l = req->data;
	struct transport *tr = l->tr;
	int rv;

	if (l->state == LINK_CLOSING) {
		uv_freeaddrinfo(res);
		l->closes--;
		transport_link_free_if_done(l);
		return;
	}
	if (status != 0 || res == NULL) {
		transport_log(tr, true, "connect %s: resolve: %s",
			      l->peer_address, uv_strerror(status));
		uv_freeaddrinfo(res);
		transport_link_close(l);
		return;
	}
	l->state = LINK_CONNECT;
	rv = tls_conn_init(&l->conn, tr->loop, tr->cfg.ctx, TLS_CLIENT,
			   TLS_ROLE_AGENT);
	if (rv != 0) {
		transport_log(tr, true, "connect %s: %s", l->peer_address,
			      l->conn.errmsg);
		uv_freeaddrinfo(res);
		transport_link_close(l);
		return;
	}
	l->conn.data = l;
	l->conn_open = true;
	tls_conn_set_timeout(&l->conn, 0); /* the link's deadline covers it */
	l->connect.data = l;
	rv = uv_tcp_connect(&l->connect, &l->conn.tcp, res->ai_addr,
			    on_connected);
	uv_freeaddrinfo(res);
	if (rv != 0)
		transport_link_close(l);
}

/* ---- the raft_uv_transport methods ---- */

static int m_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
	struct transport *tr = t->impl;

	if (strlen(address) + 1 > HELLO_ADDR_MAX - 8) {
		snprintf(t->errmsg, sizeof t->errmsg, "address too long");
		return RAFT_NAMETOOLONG;
	}
	tr->id = id;
	snprintf(tr->address, sizeof tr->address, "%s", address);
	return 0;
}

static int m_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	struct transport *tr = t->impl;
	char host[HELLO_ADDR_MAX], port[8];
	struct addrinfo hints, *res = NULL;
	uv_getaddrinfo_t req;
	int rv;

	if (split_address(tr->address, host, sizeof host, port, sizeof port) !=
	    0) {
		snprintf(t->errmsg, sizeof t->errmsg, "bad address %s",
			 tr->address);
		return RAFT_INVALID;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	/* synchronous (no callback): only at start, as raft_uv_tcp does */
	rv = uv_getaddrinfo(tr->loop, &req, NULL, host, port, &hints);
	if (rv != 0) {
		snprintf(t->errmsg, sizeof t->errmsg, "resolve %s: %s", host,
			 uv_strerror(rv));
		return RAFT_IOERR;
	}
	res = req.addrinfo;
	uv_tcp_init(tr->loop, &tr->listener);
	tr->listener.data = tr;
	tr->listener_open = true;
	rv = uv_tcp_bind(&tr->listener, res->ai_addr, 0);
	uv_freeaddrinfo(res);
	if (rv == 0)
		rv = uv_listen((uv_stream_t *)&tr->listener, 128, on_accept);
	if (rv != 0) {
		snprintf(t->errmsg, sizeof t->errmsg, "listen %s: %s",
			 tr->address, uv_strerror(rv));
		return RAFT_IOERR; /* the listener closes with the transport */
	}
	tr->accept_cb = cb;
	tr->state = TRANSPORT_LISTENING;
	return 0;
}

static int m_connect(struct raft_uv_transport *t, struct raft_uv_connect *req,
		     raft_id id, const char *address, raft_uv_connect_cb cb)
{
	struct transport *tr = t->impl;
	struct addrinfo hints;
	struct link *l;
	int rv;

	if (tr->state == TRANSPORT_CLOSING || tr->state == TRANSPORT_CLOSED)
		return RAFT_CANCELED;
	l = transport_link_new(tr, LINK_OUT);
	if (l == NULL)
		return RAFT_NOMEM;
	l->peer_id = id;
	snprintf(l->peer_address, sizeof l->peer_address, "%s", address);
	if (split_address(address, l->host, sizeof l->host, l->port,
			  sizeof l->port) != 0) {
		transport_link_unlink(l);
		free(l);
		snprintf(t->errmsg, sizeof t->errmsg, "bad address %s",
			 address);
		return RAFT_NOCONNECTION;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	l->state = LINK_RESOLVE;
	l->resolve.data = l;
	rv = uv_getaddrinfo(tr->loop, &l->resolve, on_resolved, l->host,
			    l->port, &hints);
	if (rv != 0) {
		transport_link_unlink(l);
		free(l);
		snprintf(t->errmsg, sizeof t->errmsg, "resolve %s: %s", address,
			 uv_strerror(rv));
		return RAFT_NOCONNECTION;
	}
	l->req = req;
	l->req_cb = cb;
	return 0;
}

static void on_listener_closed(uv_handle_t *h)
{
	struct transport *tr = h->data;

	tr->listener_open = false;
	transport_maybe_closed(tr);
}

static void m_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
	struct transport *tr = t->impl;
	struct link *l, *next;

	tr->close_cb = cb;
	if (tr->state == TRANSPORT_CLOSING || tr->state == TRANSPORT_CLOSED)
		return;
	tr->state = TRANSPORT_CLOSING;
	if (tr->listener_open)
		uv_close((uv_handle_t *)&tr->listener, on_listener_closed);
	for (l = tr->links; l != NULL; l = next) {
		next = l->next;
		transport_link_close(l); /* may free l */
	}
	transport_maybe_closed(tr);
}

int transport_tls_init(struct raft_uv_transport *t, uv_loop_t *loop,
		       const struct transport_tls_config *cfg)
{
	struct transport *tr;

	if (cfg == NULL || cfg->ctx == NULL || cfg->ctx->ssl == NULL)
		return RAFT_INVALID;
	tr = calloc(1, sizeof *tr);
	if (tr == NULL)
		return RAFT_NOMEM;
	tr->t = t;
	tr->loop = loop;
	tr->cfg = *cfg;
	if (tr->cfg.handshake_ms == 0)
		tr->cfg.handshake_ms = TRANSPORT_TLS_DEADLINE_MS;
	tr->state = TRANSPORT_INIT;
	t->impl = tr;
	t->init = m_init;
	t->listen = m_listen;
	t->connect = m_connect;
	t->close = m_close;
	return 0;
}

void transport_tls_close(struct raft_uv_transport *t)
{
	free(t->impl);
	t->impl = NULL;
}

unsigned transport_tls_links(struct raft_uv_transport *t)
{
	struct transport *tr = t->impl;

	return tr != NULL ? tr->bridged : 0;
}
