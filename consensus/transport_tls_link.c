/* transport_tls_link: a link of the TLS transport (see
 * transport_tls_internal.h): the list of links, closing a link from any
 * state with exactly one callback to raft for an outgoing attempt, and
 * the bridge that pumps bytes between raft's end of a socketpair and the
 * TLS connection, with back-pressure both ways. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "consensus/transport_tls_internal.h"

static void on_pipe_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

/* ---- the links and their closing ---- */

void transport_link_unlink(struct link *l)
{
	struct transport *tr = l->tr;

	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		tr->links = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
}

void transport_link_free_if_done(struct link *l)
{
	struct transport *tr = l->tr;

	if (l->closes > 0)
		return;
	transport_link_unlink(l);
	free(l);
	transport_maybe_closed(tr);
}

static void on_link_conn_closed(struct tls_conn *c)
{
	struct link *l = c->data;

	l->closes--;
	transport_link_free_if_done(l);
}

void transport_link_handle_closed(uv_handle_t *h)
{
	struct link *l = h->data;

	l->closes--;
	transport_link_free_if_done(l);
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

void transport_link_close(struct link *l)
{
	if (l->state == LINK_CLOSING)
		return;
	if (l->dir == LINK_IN && l->state != LINK_BRIDGE)
		l->tr->pending_in--;
	if (l->state == LINK_BRIDGE && l->tr->bridged > 0)
		l->tr->bridged--;
	if (l->state == LINK_BRIDGE && l->dir == LINK_IN &&
	    l->tr->bridged_in > 0)
		l->tr->bridged_in--;
	if (l->deadline_open) {
		l->deadline_open = false;
		l->closes++;
		uv_close((uv_handle_t *)&l->deadline,
			 transport_link_handle_closed);
	}
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
		uv_close((uv_handle_t *)&l->pipe, transport_link_handle_closed);
	}
	if (l->conn_open) {
		l->conn_open = false;
		l->closes++;
		tls_conn_close(&l->conn, on_link_conn_closed);
	}
	transport_link_free_if_done(l);
}

struct link *transport_link_new(struct transport *tr, int dir)
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

const char *transport_link_peer(struct link *l)
{
	if (l->dir == LINK_OUT)
		return l->peer_address;
	if (l->conn.peer_address[0])
		return l->conn.peer_address;
	return l->from[0] ? l->from : "?";
}

static void on_deadline(uv_timer_t *t)
{
	struct link *l = t->data;
	struct transport *tr = l->tr;
	unsigned ms = tr->cfg.handshake_ms;

	if (l->state == LINK_BRIDGE || l->state == LINK_CLOSING)
		return;
	if (l->dir == LINK_IN)
		transport_log(tr, true,
			      "refused %s: no %s within %u ms of accept",
			      transport_link_peer(l),
			      l->state == LINK_TLS ? "tls handshake"
						   : "raft handshake",
			      ms);
	else
		transport_log(tr, true,
			      "connect %s: not accepted within %u ms of the "
			      "tcp connect",
			      l->peer_address, ms);
	transport_link_close(l);
}

int transport_link_deadline(struct link *l)
{
	int rv;

	if (!l->deadline_open) {
		rv = uv_timer_init(l->tr->loop, &l->deadline);
		if (rv != 0)
			return rv;
		l->deadline.data = l;
		l->deadline_open = true;
	}
	return uv_timer_start(&l->deadline, on_deadline,
			      l->tr->cfg.handshake_ms, 0);
}

/* ---- the bridge ---- */

static void on_pipe_written(uv_write_t *req, int status)
{
	struct pipe_write *w = req->data;
	struct link *l = w->l;

	l->pipe_queue -= w->len;
	free(w);
	if (l->state != LINK_BRIDGE)
		return;
	if (status != 0) {
		transport_link_close(l);
		return;
	}
	if (l->pipe_queue < BRIDGE_LOW)
		tls_conn_read_start(&l->conn);
}

/* Plaintext from the peer towards raft. */
int transport_link_to_raft(struct link *l, const char *data, size_t n)
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
		transport_link_close(l);
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
		transport_link_close(l); /* raft closed its end */
		return;
	}
	out = uv_buf_init(buf->base, (unsigned)n);
	rv = tls_conn_write(&l->conn, &out, 1, on_conn_written, NULL);
	free(buf->base);
	if (rv != 0) {
		transport_log(l->tr, true, "link %s: write: %s",
			      transport_link_peer(l), tls_strerror(rv));
		transport_link_close(l);
		return;
	}
	if (tls_conn_write_queue(&l->conn) > BRIDGE_HIGH) {
		uv_read_stop((uv_stream_t *)&l->pipe);
		l->pipe_reading = false;
	}
}

/* Make the socketpair; *raft_end (raft_malloc'd) goes to raft. */
int transport_link_bridge(struct link *l, uv_stream_t **raft_end)
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
	if (l->deadline_open)
		uv_timer_stop(&l->deadline);
	if (l->dir == LINK_IN) {
		l->tr->pending_in--;
		l->tr->bridged_in++;
	}
	l->state = LINK_BRIDGE;
	l->tr->bridged++;
	*raft_end = (uv_stream_t *)theirs;
	return 0;
}
