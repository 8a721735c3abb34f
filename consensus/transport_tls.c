/* transport_tls: Raft's links over TLS 1.3 (see transport_tls.h). */
#include "consensus/transport_tls.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HELLO_PROTOCOL 1	/* raft_uv_tcp's handshake protocol */
#define HELLO_PREAMBLE 24	/* protocol, id, address length: 3 x u64 LE */
#define HELLO_ADDR_MAX 256	/* longest address accepted, padding included */
#define HELLO_ACK 8		/* u64 LE 1: the peer accepted us */
#define BRIDGE_HIGH (1u << 20)	/* stop reading the other side above */
#define BRIDGE_LOW (256u << 10) /* ... and resume below */
#define PENDING_MAX 64		/* incoming links still in their handshakes */
#define QUIET_SLOTS 16		/* distinct warnings remembered */
#define QUIET_MS 60000		/* one line per warning and minute */

enum transport_state {
	TRANSPORT_INIT,
	TRANSPORT_LISTENING,
	TRANSPORT_CLOSING,
	TRANSPORT_CLOSED,
};

/* One link's life: outgoing RESOLVE → CONNECT → TLS → HELLO → BRIDGE;
 * incoming TLS → HELLO → BRIDGE; any state → CLOSING → freed. */
enum link_state {
	LINK_RESOLVE,
	LINK_CONNECT,
	LINK_TLS,
	LINK_HELLO,
	LINK_BRIDGE,
	LINK_CLOSING,
};

enum link_dir {
	LINK_OUT,
	LINK_IN,
};

struct transport;

struct link {
	struct transport *tr;
	struct link *prev, *next;
	int dir;   /* enum link_dir */
	int state; /* enum link_state */
	struct tls_conn conn;
	uv_getaddrinfo_t resolve;
	uv_connect_t connect;
	uv_pipe_t pipe; /* our end of the socketpair (BRIDGE) */
	bool pipe_open;
	bool pipe_reading;
	bool conn_open;	   /* tls_conn_init succeeded: conn must be closed */
	unsigned closes;   /* handles still closing */
	size_t pipe_queue; /* bytes queued towards raft */
	/* outgoing: raft's request until its callback fired */
	struct raft_uv_connect *req;
	raft_uv_connect_cb req_cb;
	raft_id peer_id;
	char peer_address[HELLO_ADDR_MAX]; /* outgoing: to dial; incoming:
					      announced by the peer */
	char host[HELLO_ADDR_MAX];
	char port[8];
	/* hello being received (incoming) or ack (outgoing) */
	uint8_t hello[HELLO_PREAMBLE + HELLO_ADDR_MAX];
	size_t have, need;
};

struct transport {
	struct raft_uv_transport *t;
	uv_loop_t *loop;
	struct transport_tls_config cfg;
	int state; /* enum transport_state */
	raft_id id;
	char address[HELLO_ADDR_MAX];
	uv_tcp_t listener;
	bool listener_open;
	raft_uv_accept_cb accept_cb;
	raft_uv_transport_close_cb close_cb;
	struct link *links; /* every link, any state */
	unsigned bridged;
	unsigned pending_in; /* incoming links not bridged yet */
	/* repeated warnings (a peer retrying every second) are logged once
	 * a minute, with a count of the ones left out */
	struct {
		char key[256];
		uint64_t last_ms;
		unsigned quiet;
	} quiet[QUIET_SLOTS];
};

struct pipe_write {
	uv_write_t req;
	struct link *l;
	size_t len;
	char data[];
};

static void link_close(struct link *l);
static void on_pipe_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void tlog(struct transport *tr, bool warn, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

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

static void tlog(struct transport *tr, bool warn, const char *fmt, ...)
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

/* ---- link list and closing ---- */

static void link_unlink(struct link *l)
{
	struct transport *tr = l->tr;

	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		tr->links = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
}

static void transport_maybe_closed(struct transport *tr)
{
	if (tr->state != TRANSPORT_CLOSING || tr->links != NULL ||
	    tr->listener_open)
		return;
	tr->state = TRANSPORT_CLOSED;
	if (tr->close_cb != NULL)
		tr->close_cb(tr->t);
}

static void link_free_if_done(struct link *l)
{
	struct transport *tr = l->tr;

	if (l->closes > 0)
		return;
	link_unlink(l);
	free(l);
	transport_maybe_closed(tr);
}

static void on_link_conn_closed(struct tls_conn *c)
{
	struct link *l = c->data;

	l->closes--;
	link_free_if_done(l);
}

static void on_link_handle_closed(uv_handle_t *h)
{
	struct link *l = h->data;

	l->closes--;
	link_free_if_done(l);
}

/* Tell raft an outgoing attempt failed (once). */
static void link_fail_connect(struct link *l, int status)
{
	struct raft_uv_connect *req = l->req;
	raft_uv_connect_cb cb = l->req_cb;

	l->req = NULL;
	l->req_cb = NULL;
	if (req != NULL && cb != NULL)
		cb(req, NULL, status);
}

static void link_close(struct link *l)
{
	if (l->state == LINK_CLOSING)
		return;
	if (l->dir == LINK_IN && l->state != LINK_BRIDGE)
		l->tr->pending_in--;
	if (l->state == LINK_BRIDGE && l->tr->bridged > 0)
		l->tr->bridged--;
	if (l->state == LINK_RESOLVE) {
		/* the resolver callback ends the link */
		uv_cancel((uv_req_t *)&l->resolve);
		link_fail_connect(l, l->tr->state == TRANSPORT_CLOSING
					 ? RAFT_CANCELED
					 : RAFT_NOCONNECTION);
		l->state = LINK_CLOSING;
		l->closes++; /* held until the resolver callback */
		return;
	}
	l->state = LINK_CLOSING;
	link_fail_connect(l, l->tr->state == TRANSPORT_CLOSING
				 ? RAFT_CANCELED
				 : RAFT_NOCONNECTION);
	if (l->pipe_open) {
		l->pipe_open = false;
		l->closes++;
		uv_close((uv_handle_t *)&l->pipe, on_link_handle_closed);
	}
	if (l->conn_open) {
		l->conn_open = false;
		l->closes++;
		tls_conn_close(&l->conn, on_link_conn_closed);
	}
	link_free_if_done(l);
}

static struct link *link_new(struct transport *tr, int dir)
{
	struct link *l = calloc(1, sizeof *l);

	if (l == NULL)
		return NULL;
	l->tr = tr;
	l->dir = dir;
	l->next = tr->links;
	if (tr->links != NULL)
		tr->links->prev = l;
	tr->links = l;
	return l;
}

static const char *link_peer(struct link *l)
{
	if (l->dir == LINK_OUT)
		return l->peer_address;
	return l->conn.peer_address[0] ? l->conn.peer_address : "?";
}

/* ---- bridge ---- */

static void on_pipe_written(uv_write_t *req, int status)
{
	struct pipe_write *w = req->data;
	struct link *l = w->l;

	l->pipe_queue -= w->len;
	free(w);
	if (l->state != LINK_BRIDGE)
		return;
	if (status != 0) {
		link_close(l);
		return;
	}
	if (l->pipe_queue < BRIDGE_LOW)
		tls_conn_read_start(&l->conn);
}

/* Plaintext from the peer towards raft. */
static int bridge_to_raft(struct link *l, const char *data, size_t n)
{
	struct pipe_write *w;
	uv_buf_t buf;
	int rv;

	if (n == 0)
		return 0;
	w = malloc(sizeof *w + n);
	if (w == NULL)
		return UV_ENOMEM;
	w->req.data = w;
	w->l = l;
	w->len = n;
	memcpy(w->data, data, n);
	buf = uv_buf_init(w->data, (unsigned)n);
	rv = uv_write(&w->req, (uv_stream_t *)&l->pipe, &buf, 1,
		      on_pipe_written);
	if (rv != 0) {
		free(w);
		return rv;
	}
	l->pipe_queue += n;
	if (l->pipe_queue > BRIDGE_HIGH)
		tls_conn_read_stop(&l->conn);
	return 0;
}

static void on_pipe_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
	(void)h;
	if (size > 65536)
		size = 65536;
	buf->base = malloc(size);
	buf->len = buf->base != NULL ? size : 0;
}

static void on_conn_written(struct tls_conn *c, int status, void *arg)
{
	struct link *l = c->data;

	(void)arg;
	if (l->state != LINK_BRIDGE)
		return;
	if (status != 0) {
		link_close(l);
		return;
	}
	if (!l->pipe_reading && tls_conn_write_queue(c) < BRIDGE_LOW) {
		if (uv_read_start((uv_stream_t *)&l->pipe, on_pipe_alloc,
				  on_pipe_read) == 0)
			l->pipe_reading = true;
	}
}

/* Bytes raft wrote towards the peer. */
static void on_pipe_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct link *l = s->data;
	uv_buf_t out;
	int rv;

	if (n == 0) {
		free(buf->base);
		return;
	}
	if (n < 0 || l->state != LINK_BRIDGE) {
		free(buf->base);
		link_close(l); /* raft closed its end */
		return;
	}
	out = uv_buf_init(buf->base, (unsigned)n);
	rv = tls_conn_write(&l->conn, &out, 1, on_conn_written, NULL);
	free(buf->base);
	if (rv != 0) {
		tlog(l->tr, true, "link %s: write: %s", link_peer(l),
		     tls_strerror(rv));
		link_close(l);
		return;
	}
	if (tls_conn_write_queue(&l->conn) > BRIDGE_HIGH) {
		uv_read_stop((uv_stream_t *)&l->pipe);
		l->pipe_reading = false;
	}
}

/* Make the socketpair; *raft_end (raft_malloc'd) goes to raft. */
static int bridge_open(struct link *l, uv_stream_t **raft_end)
{
	uv_os_sock_t fds[2];
	uv_pipe_t *theirs;
	int rv;

	theirs = raft_malloc(sizeof *theirs);
	if (theirs == NULL)
		return UV_ENOMEM;
	rv = uv_socketpair(SOCK_STREAM, 0, fds, 0, 0);
	if (rv != 0) {
		raft_free(theirs);
		return rv;
	}
	uv_pipe_init(l->tr->loop, &l->pipe, 0);
	l->pipe.data = l;
	l->pipe_open = true;
	rv = uv_pipe_open(&l->pipe, fds[1]);
	if (rv != 0) {
		close(fds[1]);
		close(fds[0]);
		raft_free(theirs);
		return rv;
	}
	uv_pipe_init(l->tr->loop, theirs, 0);
	rv = uv_pipe_open(theirs, fds[0]);
	if (rv != 0) {
		close(fds[0]);
		uv_close((uv_handle_t *)theirs, (uv_close_cb)raft_free);
		return rv;
	}
	rv =
	    uv_read_start((uv_stream_t *)&l->pipe, on_pipe_alloc, on_pipe_read);
	if (rv != 0) {
		uv_close((uv_handle_t *)theirs, (uv_close_cb)raft_free);
		return rv;
	}
	l->pipe_reading = true;
	if (l->dir == LINK_IN)
		l->tr->pending_in--;
	l->state = LINK_BRIDGE;
	l->tr->bridged++;
	*raft_end = (uv_stream_t *)theirs;
	return 0;
}

/* ---- incoming ---- */

static void in_hand_over(struct link *l, const char *rest, size_t nrest)
{
	struct transport *tr = l->tr;
	uv_stream_t *theirs;
	int rv;

	if (!l->conn.allow_plain || l->conn.state == TLS_CONN_OPEN) {
		uint8_t ack[HELLO_ACK];
		uv_buf_t b = uv_buf_init((char *)ack, sizeof ack);

		put64(ack, 1);
		rv = tls_conn_write(&l->conn, &b, 1, NULL, NULL);
		if (rv != 0) {
			tlog(tr, true, "refused %s: ack: %s", link_peer(l),
			     tls_strerror(rv));
			link_close(l);
			return;
		}
	}
	rv = bridge_open(l, &theirs);
	if (rv != 0) {
		tlog(tr, true, "refused %s: socketpair: %s", link_peer(l),
		     uv_strerror(rv));
		link_close(l);
		return;
	}
	if (nrest > 0 && bridge_to_raft(l, rest, nrest) != 0) {
		uv_close((uv_handle_t *)theirs, (uv_close_cb)raft_free);
		link_close(l);
		return;
	}
	tlog(tr, false, "link from %s (id %llu, %s, CN=%s) up", link_peer(l),
	     (unsigned long long)l->peer_id,
	     l->conn.state == TLS_CONN_PLAIN ? "plain" : "tls",
	     l->conn.state == TLS_CONN_PLAIN ? "-" : l->conn.peer_identity);
	tr->accept_cb(tr->t, l->peer_id, l->peer_address, theirs);
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
				tlog(l->tr, true,
				     "refused %s: bad raft handshake",
				     link_peer(l));
				link_close(l);
				return;
			}
			l->need = HELLO_PREAMBLE + (size_t)len;
			continue;
		}
		l->peer_id = get64(l->hello + 8);
		memcpy(l->peer_address, l->hello + HELLO_PREAMBLE,
		       l->need - HELLO_PREAMBLE);
		l->peer_address[l->need - HELLO_PREAMBLE - 1] = '\0';
		in_hand_over(l, data, n);
		return;
	}
	if (n > 0 && l->state == LINK_BRIDGE && bridge_to_raft(l, data, n) != 0)
		link_close(l);
}

static void on_link_read(struct tls_conn *c, ssize_t n, const char *data);

static void on_in_handshake(struct tls_conn *c, int status)
{
	struct link *l = c->data;

	if (status != 0) {
		tlog(l->tr, true, "refused %s: %s", link_peer(l), c->errmsg);
		link_close(l);
		return;
	}
	if (c->state == TLS_CONN_PLAIN)
		tlog(l->tr, true,
		     "accepting a plain connection from %s "
		     "([tls] require = false)",
		     link_peer(l));
	l->state = LINK_HELLO;
	l->have = 0;
	l->need = HELLO_PREAMBLE;
}

static void on_accept(uv_stream_t *server, int status)
{
	struct transport *tr = server->data;
	struct link *l;
	int rv;

	if (status != 0 || tr->state != TRANSPORT_LISTENING)
		return;
	l = link_new(tr, LINK_IN);
	if (l == NULL)
		return;
	l->state = LINK_TLS;
	tr->pending_in++;
	if (tr->pending_in > PENDING_MAX) {
		/* accept and drop: a flood of silent peers must not pile up */
		uv_tcp_init(tr->loop, &l->conn.tcp);
		l->conn.tcp.data = l;
		if (uv_accept(server, (uv_stream_t *)&l->conn.tcp) == 0)
			tlog(tr, true,
			     "refused a connection: %u handshakes already "
			     "running",
			     PENDING_MAX);
		l->state = LINK_CLOSING;
		tr->pending_in--;
		l->closes++;
		uv_close((uv_handle_t *)&l->conn.tcp, on_link_handle_closed);
		return;
	}
	rv = tls_conn_init(&l->conn, tr->loop, tr->cfg.ctx, TLS_SERVER,
			   TLS_ROLE_AGENT);
	if (rv != 0) {
		tlog(tr, true, "accept: %s", l->conn.errmsg);
		link_close(l);
		return;
	}
	l->conn.data = l;
	l->conn_open = true;
	tls_conn_allow_plain(&l->conn, !tr->cfg.require);
	if (tr->cfg.handshake_ms > 0)
		tls_conn_set_timeout(&l->conn, tr->cfg.handshake_ms);
	rv = uv_accept(server, (uv_stream_t *)&l->conn.tcp);
	if (rv == 0)
		rv = tls_conn_start(&l->conn, on_in_handshake, on_link_read);
	if (rv != 0) {
		tlog(tr, true, "accept: %s", uv_strerror(rv));
		link_close(l);
	}
}

/* ---- outgoing ---- */

static void out_hand_over(struct link *l, const char *rest, size_t nrest)
{
	struct raft_uv_connect *req = l->req;
	raft_uv_connect_cb cb = l->req_cb;
	uv_stream_t *theirs;
	int rv;

	rv = bridge_open(l, &theirs);
	if (rv != 0) {
		tlog(l->tr, true, "connect %s: socketpair: %s", l->peer_address,
		     uv_strerror(rv));
		link_close(l);
		return;
	}
	if (nrest > 0 && bridge_to_raft(l, rest, nrest) != 0) {
		uv_close((uv_handle_t *)theirs, (uv_close_cb)raft_free);
		link_close(l);
		return;
	}
	l->req = NULL;
	l->req_cb = NULL;
	tlog(l->tr, false, "link to %s (id %llu, CN=%s) up", l->peer_address,
	     (unsigned long long)l->peer_id, l->conn.peer_identity);
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
			tlog(l->tr, true, "connect %s: peer refused us",
			     l->peer_address);
			link_close(l);
			return;
		}
		out_hand_over(l, data, n);
		return;
	}
	if (n > 0 && l->state == LINK_BRIDGE && bridge_to_raft(l, data, n) != 0)
		link_close(l);
}

static void on_link_read(struct tls_conn *c, ssize_t n, const char *data)
{
	struct link *l = c->data;

	if (n < 0) {
		if (l->state == LINK_HELLO)
			tlog(l->tr, true, "%s %s: %s",
			     l->dir == LINK_OUT ? "connect" : "refused",
			     link_peer(l),
			     n == TLS_E_EOF && l->dir == LINK_OUT
				 ? "peer closed the connection before "
				   "accepting us"
				 : c->errmsg);
		else if (l->state == LINK_BRIDGE && n != TLS_E_EOF)
			tlog(l->tr, true, "link %s: %s", link_peer(l),
			     c->errmsg);
		link_close(l);
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
		tlog(tr, true, "connect %s: %s", l->peer_address, c->errmsg);
		link_close(l);
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
		tlog(tr, true, "connect %s: %s", l->peer_address,
		     tls_strerror(rv));
		link_close(l);
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
		link_close(l);
		return;
	}
	l->state = LINK_TLS;
	rv = tls_conn_start(&l->conn, on_out_handshake, on_link_read);
	if (rv != 0) {
		tlog(l->tr, true, "connect %s: %s", l->peer_address,
		     uv_strerror(rv));
		link_close(l);
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
		link_free_if_done(l);
		return;
	}
	if (status != 0 || res == NULL) {
		tlog(tr, true, "connect %s: resolve: %s", l->peer_address,
		     uv_strerror(status));
		uv_freeaddrinfo(res);
		link_close(l);
		return;
	}
	l->state = LINK_CONNECT;
	rv = tls_conn_init(&l->conn, tr->loop, tr->cfg.ctx, TLS_CLIENT,
			   TLS_ROLE_AGENT);
	if (rv != 0) {
		tlog(tr, true, "connect %s: %s", l->peer_address,
		     l->conn.errmsg);
		uv_freeaddrinfo(res);
		link_close(l);
		return;
	}
	l->conn.data = l;
	l->conn_open = true;
	if (tr->cfg.handshake_ms > 0)
		tls_conn_set_timeout(&l->conn, tr->cfg.handshake_ms);
	l->connect.data = l;
	rv = uv_tcp_connect(&l->connect, &l->conn.tcp, res->ai_addr,
			    on_connected);
	uv_freeaddrinfo(res);
	if (rv != 0)
		link_close(l);
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
	l = link_new(tr, LINK_OUT);
	if (l == NULL)
		return RAFT_NOMEM;
	l->peer_id = id;
	snprintf(l->peer_address, sizeof l->peer_address, "%s", address);
	if (split_address(address, l->host, sizeof l->host, l->port,
			  sizeof l->port) != 0) {
		link_unlink(l);
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
		link_unlink(l);
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
		link_close(l); /* may free l */
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
