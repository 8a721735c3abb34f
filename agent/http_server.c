/* http_server: the listening side of the HTTP server: the socket, accepting
 * and admitting connections (max_connections, and the limits on
 * unauthenticated ones: http.h), the requests that outlive
 * their connection (orphans), and closing the server once every
 * connection is gone. See http.h for the contract. */
#include "agent/http_internal.h"
#include "agent/log.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HTTP_BACKLOG 511

/* ---- orphans ---- */

void http_server_orphan_link(struct http_server *s, struct http_request *req)
{
	req->conn = NULL;
	req->orphan_prev = NULL;
	req->orphan_next = s->orphans;
	if (s->orphans != NULL) {
		s->orphans->orphan_prev = req;
	}
	s->orphans = req;
}

void http_server_orphan_unlink(struct http_server *s, struct http_request *req)
{
	if (req->orphan_prev != NULL) {
		req->orphan_prev->orphan_next = req->orphan_next;
	} else {
		s->orphans = req->orphan_next;
	}
	if (req->orphan_next != NULL) {
		req->orphan_next->orphan_prev = req->orphan_prev;
	}
	req->orphan_prev = req->orphan_next = NULL;
}

/* ---- accepting ---- */

static void format_peer(struct http_conn *c)
{
	struct sockaddr_storage ss;
	int len = sizeof ss;
	char host[INET6_ADDRSTRLEN] = "";

	if (uv_tcp_getpeername(&c->tls.tcp, (struct sockaddr *)&ss, &len) !=
	    0) {
		return;
	}
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;

		uv_ip4_name(in, host, sizeof host);
		snprintf(c->peer, sizeof c->peer, "%s:%u", host,
			 (unsigned)ntohs(in->sin_port));
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 =
		    (const struct sockaddr_in6 *)&ss;

		uv_ip6_name(in6, host, sizeof host);
		snprintf(c->peer, sizeof c->peer, "[%s]:%u", host,
			 (unsigned)ntohs(in6->sin6_port));
	}
	snprintf(c->host, sizeof c->host, "%s", host);
}

void http_server_warn(struct http_server *s, const struct http_conn *c,
		      const char *msg)
{
	char out[TLS_ERRMSG_LEN + 64];

	/* keyed by the message alone: a flood from many addresses (more
	 * than the slots of a tls_quiet) still logs once a minute */
	if (tls_quiet_pass(&s->quiet, "*", msg, uv_now(s->loop), out,
			   sizeof out))
		LOG_WARN("http", "conn %s: %s", c->peer, out);
}

static void accept_retry_cb(uv_timer_t *t);

/* Retries admission every ACCEPT_RETRY_MS while accepting is paused, and
 * on the next loop turn once a place is free. */
#define ACCEPT_RETRY_MS 50

void http_server_authenticated(struct http_server *s, struct http_conn *c)
{
	if (!c->unauth) {
		return;
	}
	c->unauth = 0;
	s->n_unauth--;
	if ((s->held != NULL || s->accept_pending) &&
	    s->state == HTTP_SERVER_RUNNING) {
		uv_timer_start(&s->accept_timer, accept_retry_cb, 0,
			       ACCEPT_RETRY_MS);
	}
}

static void accept_paused(struct http_server *s)
{
	if (!uv_is_active((uv_handle_t *)&s->accept_timer)) {
		uv_timer_start(&s->accept_timer, accept_retry_cb,
			       ACCEPT_RETRY_MS, ACCEPT_RETRY_MS);
	}
}

/* Admits @c (accepted, state ACCEPTING) under the limits of http.h
 * ("Connections before authentication"). Returns 0 (admitted: its
 * handshake runs), -1 (refused: closed) or 1 (no room now: the caller
 * holds it). */
static int server_admit(struct http_server *s, struct http_conn *c)
{
	uint64_t now = uv_now(s->loop), ms;
	struct http_conn *o, *oldest = NULL;
	unsigned mine = 0;
	int mine_stale = 0;
	char msg[160];

	if (s->n_conns >= s->max_connections) {
		s->stats.refused_limit++;
		snprintf(msg, sizeof msg, "refused: %u connections open",
			 s->max_connections);
		http_server_warn(s, c, msg);
		http_conn_close(c);
		return -1;
	}
	for (o = s->conns; o != NULL; o = o->next) {
		int stale;

		if (!o->unauth) {
			continue;
		}
		stale = now - o->accepted_ms >= s->unauth_grace_ms;
		if (strcmp(o->host, c->host) == 0) {
			mine++;
			mine_stale |= stale;
		}
		if (stale &&
		    (oldest == NULL || o->accepted_ms < oldest->accepted_ms)) {
			oldest = o;
		}
	}
	if (mine >= s->max_unauth_per_address &&
	    (mine_stale || (s->n_unauth >= s->max_unauth && oldest != NULL))) {
		/* it holds its share, and lingers or others wait */
		s->stats.refused_address++;
		snprintf(msg, sizeof msg,
			 "refused: %u connections from this address not "
			 "authenticated yet",
			 s->max_unauth_per_address);
		http_server_warn(s, c, msg);
		http_conn_close(c);
		return -1;
	}
	if (s->n_unauth >= s->max_unauth) {
		if (oldest == NULL) {
			return 1; /* all young: room soon */
		}
		s->stats.evicted++;
		snprintf(msg, sizeof msg,
			 "closed: not authenticated within %llu ms, to make "
			 "room for another address",
			 (unsigned long long)s->unauth_grace_ms);
		http_server_warn(s, oldest, msg);
		http_conn_close(oldest);
	}
	uv_tcp_nodelay(&c->tls.tcp, 1);
	http_conn_set_state(c, CONN_HANDSHAKE);
	s->n_conns++;
	c->unauth = 1;
	s->n_unauth++;
	/* the first request's head is due counted from the accept */
	c->phase = PHASE_HEAD;
	c->head_deadline = c->accepted_ms + s->head_timeout_ms;
	if (s->tls != NULL) {
		/* the handshake too, the time held included */
		ms = s->handshake_timeout_ms;
		ms =
		    now - c->accepted_ms < ms ? ms - (now - c->accepted_ms) : 1;
		if (ms > s->idle_timeout_ms) {
			ms = s->idle_timeout_ms;
		}
		tls_conn_set_timeout(&c->tls, (unsigned)ms);
	}
	if (http_conn_start(c) != 0) {
		http_conn_close(c);
		return -1;
	}
	return 0;
}

/* Accepts the socket libuv holds for us and admits it. */
static void server_accept(struct http_server *s)
{
	struct http_conn *c = calloc(1, sizeof *c);

	if (c == NULL || http_parse_init(c) != 0) {
		LOG_ERROR("http", "accept: out of memory");
		free(c);
		s->accept_pending = 1; /* libuv keeps it: try again later */
		accept_paused(s);
		return;
	}
	c->server = s;
	c->state = CONN_ACCEPTING;
	if (tls_conn_init(&c->tls, s->loop, s->tls, TLS_SERVER,
			  TLS_ROLES_ANY) != 0) {
		LOG_ERROR("http", "accept: %s", c->tls.errmsg);
		http_parse_free(c->parse);
		free(c);
		s->accept_pending = 1;
		accept_paused(s);
		return;
	}
	uv_timer_init(s->loop, &c->timer);
	c->tls.data = c;
	c->timer.data = c;
	c->handles_open = 2;
	c->next = s->conns;
	if (s->conns != NULL) {
		s->conns->prev = c;
	}
	s->conns = c;
	snprintf(c->peer, sizeof c->peer, "unknown");
	if (uv_accept((uv_stream_t *)s->listener, (uv_stream_t *)&c->tls.tcp) !=
	    0) {
		http_conn_close(c);
		return;
	}
	c->accepted_ms = uv_now(s->loop);
	format_peer(c);
	if (server_admit(s, c) == 1) {
		s->held = c;
		accept_paused(s);
	}
}

/* While accepting is paused: admits the connection held, then accepts
 * again (which lets libuv watch the listener again). */
static void accept_retry_cb(uv_timer_t *t)
{
	struct http_server *s = t->data;
	struct http_conn *c = s->held;

	if (s->state != HTTP_SERVER_RUNNING) {
		uv_timer_stop(t);
		return;
	}
	if (c != NULL) {
		s->held = NULL;
		if (uv_now(s->loop) - c->accepted_ms >=
		    s->handshake_timeout_ms) {
			s->stats.timeouts_handshake++;
			http_server_warn(s, c,
					 "closed: no room to admit it before "
					 "its handshake deadline");
			http_conn_close(c);
		} else if (server_admit(s, c) == 1) {
			s->held = c;
			return;
		}
	}
	if (s->accept_pending) {
		s->accept_pending = 0;
		server_accept(s);
	}
	if (s->held == NULL && !s->accept_pending) {
		uv_timer_stop(t);
	}
}

static void server_connection_cb(uv_stream_t *listener, int status)
{
	struct http_server *s = listener->data;

	if (status < 0) {
		LOG_WARN("http", "accept: %s", uv_strerror(status));
		return;
	}
	if (s->state != HTTP_SERVER_RUNNING) {
		return;
	}
	if (s->held != NULL || s->accept_pending) {
		/* paused: without uv_accept() libuv keeps the socket and
		 * stops watching the listener until the retry takes it */
		s->accept_pending = 1;
		return;
	}
	server_accept(s);
}

/* ---- server ---- */

void http_server_maybe_closed(struct http_server *s)
{
	struct http_request *req;

	if (s->state != HTTP_SERVER_CLOSING || s->listener_open ||
	    s->accept_timer_open || s->conns != NULL) {
		return;
	}
	/* Requests still with the handler outlive the server. */
	while ((req = s->orphans) != NULL) {
		http_server_orphan_unlink(s, req);
		req->server = NULL;
	}
	s->state = HTTP_SERVER_CLOSED;
	if (s->close_cb != NULL) {
		s->close_cb(s);
	}
}

static void listener_free_cb(uv_handle_t *h) { free(h); }

static void accept_timer_close_cb(uv_handle_t *h)
{
	struct http_server *s = h->data;

	s->accept_timer_open = 0;
	http_server_maybe_closed(s);
}

static void listener_close_cb(uv_handle_t *h)
{
	struct http_server *s = h->data;

	free(h);
	s->listener = NULL;
	s->listener_open = 0;
	http_server_maybe_closed(s);
}

/* Creates a bound, listening, non-blocking socket; returns it or a negative
 * libuv error. Done by hand so that every common failure (address in use,
 * permission) leaves no handle behind. */
static int listen_socket(const struct sockaddr *sa, socklen_t salen, int *port)
{
	struct sockaddr_storage bound;
	socklen_t blen = sizeof bound;
	int one = 1;
	int fd, rv;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		return uv_translate_sys_error(errno);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, sa, salen) != 0 || listen(fd, HTTP_BACKLOG) != 0 ||
	    getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
		rv = uv_translate_sys_error(errno);
		close(fd);
		return rv;
	}
	if (bound.ss_family == AF_INET) {
		*port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	} else {
		*port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
	}
	return fd;
}

int http_server_init(struct http_server *s, uv_loop_t *loop,
		     const struct http_server_config *cfg,
		     http_handler_fn handler, void *data)
{
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	const struct sockaddr *sa;
	socklen_t salen;
	uv_tcp_t *listener;
	int fd, port = 0, rv;

	if (s == NULL || loop == NULL || cfg == NULL || handler == NULL ||
	    cfg->host == NULL || cfg->port < 0 || cfg->port > 65535) {
		return UV_EINVAL;
	}
	if (cfg->max_unauthenticated > 0 &&
	    cfg->max_unauthenticated > (cfg->max_connections
					    ? cfg->max_connections
					    : HTTP_DEFAULT_MAX_CONNECTIONS)) {
		return UV_EINVAL;
	}
	if (uv_ip4_addr(cfg->host, cfg->port, &in4) == 0) {
		sa = (const struct sockaddr *)&in4;
		salen = sizeof in4;
	} else if (uv_ip6_addr(cfg->host, cfg->port, &in6) == 0) {
		sa = (const struct sockaddr *)&in6;
		salen = sizeof in6;
	} else {
		return UV_EINVAL;
	}
	fd = listen_socket(sa, salen, &port);
	if (fd < 0) {
		return fd;
	}
	listener = malloc(sizeof *listener);
	if (listener == NULL) {
		rv = UV_ENOMEM;
		goto err_after_socket;
	}
	rv = uv_tcp_init(loop, listener);
	if (rv != 0) {
		free(listener);
		goto err_after_socket;
	}
	rv = uv_tcp_open(listener, fd);
	if (rv != 0) {
		uv_close((uv_handle_t *)listener, listener_free_cb);
		goto err_after_socket;
	}
	listener->data = s;
	rv = uv_listen((uv_stream_t *)listener, HTTP_BACKLOG,
		       server_connection_cb);
	if (rv != 0) {
		/* closes fd; the handle is freed on the next loop turn */
		uv_close((uv_handle_t *)listener, listener_free_cb);
		return rv;
	}

	memset(s, 0, sizeof *s);
	s->state = HTTP_SERVER_RUNNING;
	s->loop = loop;
	s->listener = listener;
	s->listener_open = 1;
	s->port = port;
	s->max_body = cfg->max_body ? cfg->max_body : HTTP_DEFAULT_MAX_BODY;
	s->max_header =
	    cfg->max_header ? cfg->max_header : HTTP_DEFAULT_MAX_HEADER;
	s->idle_timeout_ms = cfg->idle_timeout_ms
				 ? cfg->idle_timeout_ms
				 : HTTP_DEFAULT_IDLE_TIMEOUT_MS;
	s->max_connections = cfg->max_connections
				 ? cfg->max_connections
				 : HTTP_DEFAULT_MAX_CONNECTIONS;
	s->handshake_timeout_ms = cfg->handshake_timeout_ms
				      ? cfg->handshake_timeout_ms
				      : HTTP_DEFAULT_HANDSHAKE_TIMEOUT_MS;
	s->head_timeout_ms = cfg->head_timeout_ms
				 ? cfg->head_timeout_ms
				 : HTTP_DEFAULT_HEAD_TIMEOUT_MS;
	s->min_body_rate = cfg->min_body_rate ? cfg->min_body_rate
					      : HTTP_DEFAULT_MIN_BODY_RATE;
	s->body_window_ms = cfg->body_window_ms ? cfg->body_window_ms
						: HTTP_DEFAULT_BODY_WINDOW_MS;
	s->max_unauth = cfg->max_unauthenticated;
	if (s->max_unauth == 0) {
		s->max_unauth = s->max_connections / 2;
		if (s->max_unauth > HTTP_DEFAULT_MAX_UNAUTHENTICATED) {
			s->max_unauth = HTTP_DEFAULT_MAX_UNAUTHENTICATED;
		}
		if (s->max_unauth == 0) {
			s->max_unauth = 1;
		}
	}
	s->max_unauth_per_address =
	    cfg->max_unauthenticated_per_address
		? cfg->max_unauthenticated_per_address
		: HTTP_DEFAULT_MAX_UNAUTHENTICATED_PER_ADDRESS;
	s->unauth_grace_ms = cfg->unauth_grace_ms
				 ? cfg->unauth_grace_ms
				 : HTTP_DEFAULT_UNAUTH_GRACE_MS;
	uv_timer_init(loop, &s->accept_timer);
	s->accept_timer.data = s;
	s->accept_timer_open = 1;
	s->handler = handler;
	s->on_done = cfg->on_done;
	s->stream_match = cfg->stream_match;
	s->on_head = cfg->on_head;
	s->tls = cfg->tls;
	s->data = data;
	return 0;

err_after_socket:
	close(fd);
	return rv;
}

int http_server_port(const struct http_server *s) { return s->port; }

void http_server_close(struct http_server *s, void (*cb)(struct http_server *s))
{
	struct http_conn *c;

	if (s->state != HTTP_SERVER_RUNNING) {
		return;
	}
	s->state = HTTP_SERVER_CLOSING;
	s->close_cb = cb;
	uv_close((uv_handle_t *)s->listener, listener_close_cb);
	uv_close((uv_handle_t *)&s->accept_timer, accept_timer_close_cb);
	for (c = s->conns; c != NULL; c = c->next) {
		http_conn_close(c);
	}
}
