/* hclient: libcurl's multi interface on a libuv loop (see hclient.h).
 *
 * libcurl says which sockets to watch (hclient__on_socket: one uv_poll per
 * socket, closed when libcurl removes the socket) and when to call it
 * back (hclient__on_curl_timer: the client's one uv_timer); the loop's
 * events go back to curl_multi_socket_action(), after which finished
 * transfers are collected (hclient__collect). A socket number libcurl
 * hands out again while our watcher of the old socket of that number is
 * still registered means that socket was closed behind our back: the old
 * watcher is closed before the new one is made (libuv allows one watcher
 * per descriptor).
 *
 * Each request is RUNNING from hclient_request() until hclient__finish(),
 * the only place its callback is called (transfer done, cancel, close);
 * the easy handle leaves the multi handle before the callback, so the
 * callback may start requests, cancel others or close the client. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/hclient_internal.h"
#include "agent/log.h"
#include "tls/tcp_thin.h"

#define MOD "hclient"

static const char *const hclient__req_state_names[HCLIENT_REQ_NR_STATES] = {
    [HCLIENT_REQ_RUNNING] = "running",
    [HCLIENT_REQ_DONE] = "done",
};

const char *hclient_strerror(int err) { return tls_strerror(err); }

/* ---- handles ---------------------------------------------------------- */

/* A handle of the client closed: the last one ends hclient_close(). */
static void hclient__handle_closed(struct hclient *c)
{
	assert(c->closing_handles > 0);
	c->closing_handles--;
	if (c->state == HCLIENT_CLOSING && c->closing_handles == 0) {
		c->state = HCLIENT_CLOSED;
		LOG_DEBUG(MOD, "closed");
		if (c->close_cb != NULL)
			c->close_cb(c);
	}
}

static void hclient__on_sock_closed(uv_handle_t *h)
{
	struct hclient_sock *k = h->data;
	struct hclient *c = k->client;

	free(k);
	hclient__handle_closed(c);
}

static void hclient__on_timer_closed(uv_handle_t *h)
{
	hclient__handle_closed(h->data);
}

/* Stop watching k and let it go (freed once its handle has closed). */
static void hclient__sock_close(struct hclient_sock *k)
{
	struct hclient *c = k->client;

	if (k->prev != NULL)
		k->prev->next = k->next;
	else
		c->socks = k->next;
	if (k->next != NULL)
		k->next->prev = k->prev;
	if ((size_t)k->fd < c->by_fd_len && c->by_fd[k->fd] == k)
		c->by_fd[k->fd] = NULL;
	c->closing_handles++;
	uv_close((uv_handle_t *)&k->poll, hclient__on_sock_closed);
}

static void hclient__finish(struct hclient_req *req, int err, const char *why);

/* What a transfer libcurl ended with rc means for the callback: 0 (a
 * complete response) or the error, with why (len bytes) saying more for a
 * TLS failure. */
static int hclient__outcome(struct hclient_req *req, CURLcode rc, char *why,
			    size_t len)
{
	long os = 0;
	int err;

	if (req->last_status == 101)
		return UV_EPROTO; /* switching protocols: not ours */
	if (rc == CURLE_OK)
		return req->headers_done ? 0 : UV_EOF; /* cut in the headers */
	if (req->err == TLS_E_STATE)
		snprintf(why, len, "tls context closed or never loaded");
	if (req->err == TLS_E_REVOKED)
		snprintf(why, len,
			 "peer certificate revoked (CN=%s): connection closed",
			 req->peer_identity[0] ? req->peer_identity : "?");
	if (req->err != 0)
		return req->err; /* one of our callbacks stopped it */
	if (req->client->tls != NULL) {
		err = hclient__tls_outcome(req, rc, why, len);
		if (err != 0)
			return err;
	}
	curl_easy_getinfo(req->easy, CURLINFO_OS_ERRNO, &os);
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return UV_ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
		return UV_EAI_NONAME;
	case CURLE_COULDNT_CONNECT:
		return os > 0 ? uv_translate_sys_error((int)os)
			      : UV_ECONNREFUSED;
	case CURLE_SEND_ERROR:
		return os > 0 ? uv_translate_sys_error((int)os) : UV_EPIPE;
	case CURLE_RECV_ERROR:
		return os > 0 ? uv_translate_sys_error((int)os) : UV_EOF;
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return UV_EOF;
	case CURLE_FILESIZE_EXCEEDED:
		return UV_E2BIG;
	case CURLE_OUT_OF_MEMORY:
		return UV_ENOMEM;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_CONTENT_ENCODING:
		return UV_EPROTO;
	default:
		LOG_DEBUG(MOD, "%s:%u %s: libcurl: %s (%s)", req->host,
			  (unsigned)req->port, req->what,
			  curl_easy_strerror(rc), req->errbuf);
		return UV_EIO;
	}
}

/* Collect every finished transfer and complete its request. */
static void hclient__collect(struct hclient *c)
{
	CURLMsg *msg;
	int left;

	/* the multi handle goes if a callback closes the client */
	while (c->multi != NULL &&
	       (msg = curl_multi_info_read(c->multi, &left)) != NULL) {
		struct hclient_req *req = NULL;
		char why[TLS_ERRMSG_LEN] = "";
		int err;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
				  (char **)&req);
		assert(req != NULL && req->state == HCLIENT_REQ_RUNNING);
		err = hclient__outcome(req, msg->data.result, why, sizeof why);
		hclient__finish(req, err, why);
	}
}

static void hclient__on_poll(uv_poll_t *p, int status, int events)
{
	struct hclient_sock *k = p->data;
	struct hclient *c = k->client;
	int flags = 0;
	int running;

	if (c->multi == NULL)
		return;
	if (status < 0) {
		flags = CURL_CSELECT_ERR;
	} else {
		if (events & (UV_READABLE | UV_DISCONNECT))
			flags |= CURL_CSELECT_IN;
		if (events & UV_WRITABLE)
			flags |= CURL_CSELECT_OUT;
	}
	curl_multi_socket_action(c->multi, k->fd, flags, &running);
	hclient__collect(c);
}

static void hclient__on_timeout(uv_timer_t *t)
{
	struct hclient *c = t->data;
	int running;

	if (c->multi == NULL)
		return;
	curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	hclient__collect(c);
}

/* CURLMOPT_SOCKETFUNCTION: watch s for what libcurl wants. */
static int hclient__on_socket(CURL *easy, curl_socket_t s, int what,
			      void *userp, void *socketp)
{
	struct hclient *c = userp;
	struct hclient_sock *k = socketp;
	int events = 0;
	int rv;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (k != NULL) {
			hclient__sock_close(k);
			if (c->multi != NULL)
				curl_multi_assign(c->multi, s, NULL);
		}
		return 0;
	}
	if (k == NULL) {
		struct hclient_sock *old;

		if (s < 0) {
			LOG_ERROR(MOD, "cannot watch socket %d", (int)s);
			return 0;
		}
		if ((size_t)s >= c->by_fd_len) {
			size_t len = c->by_fd_len != 0 ? c->by_fd_len : 64;
			struct hclient_sock **t;

			while (len <= (size_t)s)
				len *= 2;
			t = realloc(c->by_fd, len * sizeof *t);
			if (t == NULL) {
				LOG_ERROR(MOD,
					  "cannot watch socket %d: out of "
					  "memory",
					  (int)s);
				return 0; /* the transfer times out */
			}
			memset(t + c->by_fd_len, 0,
			       (len - c->by_fd_len) * sizeof *t);
			c->by_fd = t;
			c->by_fd_len = len;
		}
		/* a socket new to libcurl: a watcher of ours on the same
		 * number belongs to one closed without a word */
		old = c->by_fd[s];
		if (old != NULL)
			hclient__sock_close(old);
		k = calloc(1, sizeof *k);
		if (k == NULL) {
			LOG_ERROR(MOD, "cannot watch socket %d: out of memory",
				  (int)s);
			return 0; /* the transfer times out */
		}
		rv = uv_poll_init_socket(c->loop, &k->poll, s);
		if (rv != 0) {
			LOG_ERROR(MOD, "cannot watch socket %d: %s", (int)s,
				  uv_strerror(rv));
			free(k);
			return 0;
		}
		k->poll.data = k;
		k->client = c;
		k->fd = s;
		k->next = c->socks;
		if (c->socks != NULL)
			c->socks->prev = k;
		c->socks = k;
		c->by_fd[s] = k;
		if (c->multi != NULL)
			curl_multi_assign(c->multi, s, k);
	} else {
		/* libcurl may have closed the socket it first gave us under
		 * this number and opened another before it removed the first
		 * (a refused connection attempt): epoll dropped the closed
		 * one, so register the number afresh rather than modify a
		 * registration that is gone (uv_poll_start() of libuv 1.44
		 * does so too; this does not depend on it) */
		uv_poll_stop(&k->poll);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	if (events != 0)
		uv_poll_start(&k->poll, events, hclient__on_poll);
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: call libcurl back in timeout_ms (-1: never). */
static int hclient__on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct hclient *c = userp;

	(void)multi;
	if (uv_is_closing((uv_handle_t *)&c->timer))
		return 0;
	if (timeout_ms < 0)
		uv_timer_stop(&c->timer);
	else
		uv_timer_start(&c->timer, hclient__on_timeout,
			       (uint64_t)timeout_ms, 0);
	return 0;
}

/* ---- client ----------------------------------------------------------- */

int hclient_init(struct hclient *c, uv_loop_t *loop, struct tls_ctx *tls)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	memset(c, 0, sizeof *c);
	if (tls != NULL && (v->ssl_version == NULL ||
			    strncasecmp(v->ssl_version, "OpenSSL", 7) != 0)) {
		LOG_ERROR(MOD, "libcurl uses %s, not OpenSSL: no tls",
			  v->ssl_version != NULL ? v->ssl_version : "no tls");
		return UV_ENOTSUP;
	}
	c->multi = curl_multi_init();
	c->share = curl_share_init();
	c->spare = calloc(HCLIENT_CONN_MAX, sizeof *c->spare);
	if (c->multi == NULL || c->share == NULL || c->spare == NULL ||
	    curl_share_setopt(c->share, CURLSHOPT_SHARE,
			      CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION,
			      hclient__on_socket) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION,
			      hclient__on_curl_timer) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS,
			      (long)HCLIENT_CONN_MAX) != CURLM_OK) {
		if (c->multi != NULL)
			curl_multi_cleanup(c->multi);
		if (c->share != NULL)
			curl_share_cleanup(c->share);
		free(c->spare);
		memset(c, 0, sizeof *c);
		return UV_ENOMEM;
	}
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	c->conn_max = HCLIENT_CONN_MAX;
	c->conn_idle_s = HCLIENT_CONN_IDLE_S;
	c->conn_life_s = HCLIENT_CONN_LIFE_S;
	c->loop = loop;
	c->tls = tls;
	c->state = HCLIENT_OPEN;
	return 0;
}

void hclient_close(struct hclient *c, hclient_close_cb cb)
{
	if (c->state != HCLIENT_OPEN)
		return;
	c->state = HCLIENT_CLOSING;
	c->close_cb = cb;
	while (c->reqs != NULL)
		hclient__finish(c->reqs, UV_ECANCELED, "");
	/* closes the kept-alive connections (their sockets are no longer
	 * watched: libcurl removed them when their transfers ended) */
	curl_multi_cleanup(c->multi);
	c->multi = NULL;
	/* the spare handles still name the share: libcurl refuses to free a
	 * share in use (CURLSHE_IN_USE), so they go first */
	while (c->n_spare > 0)
		curl_easy_cleanup(c->spare[--c->n_spare]);
	free(c->spare);
	c->spare = NULL;
	if (curl_share_cleanup(c->share) != CURLSHE_OK)
		LOG_ERROR(MOD, "the tls session cache is still in use: leaked");
	c->share = NULL;
	while (c->socks != NULL)
		hclient__sock_close(c->socks);
	free(c->by_fd);
	c->by_fd = NULL;
	c->by_fd_len = 0;
	c->closing_handles++;
	uv_close((uv_handle_t *)&c->timer, hclient__on_timer_closed);
}

int hclient_set_pool(struct hclient *c, unsigned conn_max, unsigned idle_s,
		     unsigned life_s)
{
	if (conn_max < 1 || conn_max > HCLIENT_POOL_CONN_LIMIT || idle_s < 1 ||
	    idle_s > HCLIENT_POOL_SECONDS_LIMIT || life_s < 1 ||
	    life_s > HCLIENT_POOL_SECONDS_LIMIT)
		return UV_EINVAL;
	if (c->state != HCLIENT_OPEN)
		return UV_ECANCELED;
	if (conn_max != c->conn_max) {
		void **t;

		while (c->n_spare > conn_max)
			curl_easy_cleanup(c->spare[--c->n_spare]);
		t = realloc(c->spare, conn_max * sizeof *t);
		if (t == NULL)
			return UV_ENOMEM;
		c->spare = t;
	}
	if (curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)conn_max) !=
	    CURLM_OK)
		return UV_EINVAL;
	c->conn_max = conn_max;
	c->conn_idle_s = idle_s;
	c->conn_life_s = life_s;
	return 0;
}

/* ---- requests --------------------------------------------------------- */

static void hclient__set_state(struct hclient_req *req, int next)
{
	assert(req->state == HCLIENT_REQ_RUNNING && next == HCLIENT_REQ_DONE);
	LOG_DEBUG(MOD, "%s:%u %s: %s -> %s", req->host, (unsigned)req->port,
		  req->what, hclient__req_state_names[req->state],
		  hclient__req_state_names[next]);
	req->state = next;
}

static void hclient__free(struct hclient_req *req)
{
	if (req->easy != NULL)
		curl_easy_cleanup(req->easy);
	curl_slist_free_all(req->headers);
	free(req->body.data);
	free(req->location.data);
	free(req);
}

/* The single completion point: take the transfer out of libcurl, log a
 * refused handshake, run the callback once, free the request. */
static void hclient__finish(struct hclient_req *req, int err, const char *why)
{
	struct hclient *c = req->client;
	struct hclient_response resp;
	long status = 0;
	long connects = 0;

	hclient__set_state(req, HCLIENT_REQ_DONE);
	if (req->prev != NULL)
		req->prev->next = req->next;
	else
		c->reqs = req->next;
	if (req->next != NULL)
		req->next->prev = req->prev;
	if (err == 0) {
		curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(req->easy, CURLINFO_NUM_CONNECTS, &connects);
		if (status < 200 || status > 999)
			err = UV_EPROTO; /* an interim or upgrade answer */
	}
	if (c->multi != NULL)
		curl_multi_remove_handle(c->multi, req->easy);
	if (c->state == HCLIENT_OPEN && c->spare != NULL &&
	    c->n_spare < c->conn_max) {
		/* kept for the next request: no allocation per request */
		curl_easy_reset(req->easy);
		c->spare[c->n_spare++] = req->easy;
	} else {
		curl_easy_cleanup(req->easy);
	}
	req->easy = NULL;

	if (err <= TLS_E_CONFIG && err >= TLS_E_CLOSING && c->tls != NULL) {
		char addr[HCLIENT_HOST_MAX + 8];
		char msg[TLS_ERRMSG_LEN + 64];

		/* heartbeats retry every few hundred ms: once a minute */
		snprintf(addr, sizeof addr, "%s:%u", req->host,
			 (unsigned)req->port);
		if (tls_quiet_pass(&c->tls->quiet, addr,
				   why[0] != '\0' ? why : hclient_strerror(err),
				   uv_now(c->loop), msg, sizeof msg))
			LOG_WARN(MOD, "%s: %s", addr, msg);
	} else if (err != 0) {
		LOG_DEBUG(MOD, "%s:%u %s: %s", req->host, (unsigned)req->port,
			  req->what, hclient_strerror(err));
	}
	if (err != 0) {
		req->cb(req->arg, err, NULL);
	} else {
		resp.status = (int)status;
		resp.body = req->body.data != NULL ? req->body.data : "";
		resp.body_len = req->body.len;
		resp.location = req->have_location ? req->location.data : NULL;
		resp.new_connection = connects > 0;
		req->cb(req->arg, 0, &resp);
	}
	hclient__free(req);
}

void hclient_cancel(struct hclient_req *req)
{
	assert(req != NULL && req->state == HCLIENT_REQ_RUNNING);
	hclient__finish(req, UV_ECANCELED, "");
}

static int hclient__buf_append(struct hclient_buf *b, const char *p, size_t n,
			       size_t max)
{
	size_t cap;
	char *data;

	if (n > max || b->len > max - n) {
		return UV_E2BIG;
	}
	if (b->data == NULL || b->len + n + 1 > b->cap) {
		cap = b->cap != 0 ? b->cap : 256;
		while (cap < b->len + n + 1) {
			cap *= 2;
		}
		data = realloc(b->data, cap);
		if (data == NULL) {
			return UV_ENOMEM;
		}
		b->data = data;
		b->cap = cap;
	}
	if (n > 0) {
		memcpy(b->data + b->len, p, n);
	}
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int hclient__sockopt(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	(void)arg;
	if (purpose == CURLSOCKTYPE_IPCXN)
		tcp_thin_set(fd);
	return CURL_SOCKOPT_OK;
}

/* CURLOPT_WRITEFUNCTION: the (de-chunked) body of the final response. */
static size_t hclient__on_body(char *p, size_t size, size_t n, void *arg)
{
	struct hclient_req *req = arg;
	int rv = hclient__buf_append(&req->body, p, n, HCLIENT_BODY_MAX);

	if (rv != 0) {
		req->err = rv;
		return 0; /* CURLE_WRITE_ERROR */
	}
	(void)size; /* always 1 */
	return n;
}

/* CURLOPT_HEADERFUNCTION: one header line of a response (interim ones
 * included), CRLF and all; keeps the last Location of the last one. */
static size_t hclient__on_header(char *p, size_t size, size_t n, void *arg)
{
	struct hclient_req *req = arg;
	size_t len = n;
	int rv;

	(void)size;
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		const char *sp = memchr(p, ' ', len);

		/* a new response begins (after an interim one) */
		req->have_location = false;
		req->headers_done = false;
		req->last_status = sp != NULL && (size_t)(sp - p) + 4 <= len
				       ? atoi(sp + 1)
				       : 0;
		return n;
	}
	if ((len == 2 && p[0] == '\r' && p[1] == '\n') ||
	    (len == 1 && p[0] == '\n')) {
		req->headers_done = true;
		return n;
	}
	if (len < 9 || strncasecmp(p, "location:", 9) != 0)
		return n;
	p += 9;
	len -= 9;
	while (len > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n' ||
			   p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	req->location.len = 0;
	rv = hclient__buf_append(&req->location, p, len,
				 HCLIENT_LOCATION_MAX - 1);
	if (rv != 0) {
		req->err = rv;
		return 0; /* CURLE_WRITE_ERROR */
	}
	req->have_location = true;
	return n;
}

/* The URL of the request: scheme, host (an IPv6 literal in brackets, its
 * zone id escaped as %25), port, path. */
static int hclient__url(char *out, size_t len, bool tls, const char *name,
			enum hclient_host_kind kind, uint16_t port,
			const char *path)
{
	const char *scheme = tls ? "https" : "http";
	const char *zone = strchr(name, '%');
	int n;

	if (kind == HCLIENT_HOST_V6 && zone != NULL)
		n = snprintf(out, len, "%s://[%.*s%%25%s]:%u%s", scheme,
			     (int)(zone - name), name, zone + 1, (unsigned)port,
			     path);
	else if (kind == HCLIENT_HOST_V6)
		n = snprintf(out, len, "%s://[%s]:%u%s", scheme, name,
			     (unsigned)port, path);
	else
		n = snprintf(out, len, "%s://%s:%u%s", scheme, name,
			     (unsigned)port, path);
	return n > 0 && (size_t)n < len ? 0 : UV_EINVAL;
}

/* The header list: the caller's lines, then ours. libcurl sends Host,
 * Content-Length (with a body) and no Connection header (HTTP/1.1 keeps
 * the connection); an empty "Name:" drops one of libcurl's own. */
static int hclient__headers(struct hclient_req *req, const char *extra,
			    bool has_type, bool with_body, bool send_length)
{
	const char *line = extra;
	struct curl_slist *l;
	char buf[8192];

	while (line != NULL && *line != '\0') {
		const char *eol = strstr(line, "\r\n");
		size_t n = (size_t)(eol - line);

		if (n >= sizeof buf)
			return UV_EINVAL;
		memcpy(buf, line, n);
		buf[n] = '\0';
		l = curl_slist_append(req->headers, buf);
		if (l == NULL)
			return UV_ENOMEM;
		req->headers = l;
		line = eol + 2;
	}
	if (!has_type && (with_body || send_length)) {
		/* libcurl would say application/x-www-form-urlencoded */
		l = curl_slist_append(
		    req->headers, with_body ? "Content-Type: application/json"
					    : "Content-Type:");
		if (l == NULL)
			return UV_ENOMEM;
		req->headers = l;
	}
	/* no "Expect: 100-continue" pause, no catch-all Accept */
	if ((l = curl_slist_append(req->headers, "Expect:")) == NULL)
		return UV_ENOMEM;
	req->headers = l;
	if ((l = curl_slist_append(req->headers, "Accept:")) == NULL)
		return UV_ENOMEM;
	req->headers = l;
	return 0;
}

#define HCLIENT_SET(opt, val)                                                  \
	do {                                                                   \
		if (curl_easy_setopt(e, opt, val) != CURLE_OK)                 \
			return UV_ENOMEM;                                      \
	} while (0)

/* Every option of the transfer of req. */
static int hclient__setup(struct hclient_req *req, const char *url,
			  const char *method, const char *body, size_t body_len,
			  bool send_length, unsigned timeout_ms)
{
	struct hclient *c = req->client;
	CURL *e = req->easy;

	HCLIENT_SET(CURLOPT_URL, url);
	HCLIENT_SET(CURLOPT_PROTOCOLS_STR, "http,https");
	HCLIENT_SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	HCLIENT_SET(CURLOPT_PROXY, ""); /* never *_proxy from the environment */
	HCLIENT_SET(CURLOPT_NOSIGNAL, 1L);
	HCLIENT_SET(CURLOPT_QUICK_EXIT, 1L); /* cancelling a lookup: no join */
	HCLIENT_SET(CURLOPT_FOLLOWLOCATION, 0L);
	HCLIENT_SET(CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	HCLIENT_SET(CURLOPT_MAXAGE_CONN, (long)c->conn_idle_s);
	HCLIENT_SET(CURLOPT_MAXLIFETIME_CONN, (long)c->conn_life_s);
	HCLIENT_SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HCLIENT_BODY_MAX);
	HCLIENT_SET(CURLOPT_SHARE, c->share);
	HCLIENT_SET(CURLOPT_PRIVATE, req);
	HCLIENT_SET(CURLOPT_ERRORBUFFER, req->errbuf);
	HCLIENT_SET(CURLOPT_WRITEFUNCTION, hclient__on_body);
	HCLIENT_SET(CURLOPT_WRITEDATA, req);
	HCLIENT_SET(CURLOPT_HEADERFUNCTION, hclient__on_header);
	HCLIENT_SET(CURLOPT_HEADERDATA, req);
	HCLIENT_SET(CURLOPT_HTTPHEADER, req->headers);
	HCLIENT_SET(CURLOPT_SOCKOPTFUNCTION, hclient__sockopt);
	if (strcmp(method, "HEAD") == 0) {
		HCLIENT_SET(CURLOPT_NOBODY, 1L);
	} else if (!send_length) {
		HCLIENT_SET(CURLOPT_HTTPGET, 1L);
	} else {
		HCLIENT_SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		HCLIENT_SET(CURLOPT_COPYPOSTFIELDS, body != NULL ? body : "");
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
	    strcmp(method, "POST") != 0)
		HCLIENT_SET(CURLOPT_CUSTOMREQUEST, method);
	else if (strcmp(method, "GET") == 0 && send_length)
		HCLIENT_SET(CURLOPT_CUSTOMREQUEST, method);
	if (c->tls != NULL)
		return hclient__tls_setup(req);
	return 0;
}

int hclient_request(struct hclient *c, const char *method, const char *host,
		    uint16_t port, const char *path, const char *extra_headers,
		    const char *body, size_t body_len, unsigned timeout_ms,
		    hclient_cb cb, void *arg, struct hclient_req **out)
{
	struct hclient_req *req;
	enum hclient_host_kind kind;
	char name[HCLIENT_HOST_MAX];
	char url[HCLIENT_HOST_MAX + 4096];
	bool has_type, send_length;
	int rv;

	if (c == NULL || method == NULL || host == NULL || path == NULL ||
	    cb == NULL || port == 0 || timeout_ms == 0 ||
	    (body == NULL && body_len != 0)) {
		return UV_EINVAL;
	}
	if (!hclient__valid_token(method, strlen(method)) ||
	    !hclient__valid_target(path, strlen(path)) ||
	    !hclient__valid_extra(extra_headers, &has_type) ||
	    hclient__host(host, name, &kind) != 0 ||
	    hclient__url(url, sizeof url, c->tls != NULL, name, kind, port,
			 path) != 0) {
		return UV_EINVAL;
	}
	if (c->state != HCLIENT_OPEN) {
		return UV_ECANCELED;
	}
	send_length = body != NULL || (strcmp(method, "GET") != 0 &&
				       strcmp(method, "HEAD") != 0);

	req = calloc(1, sizeof *req);
	if (req == NULL) {
		return UV_ENOMEM;
	}
	req->client = c;
	req->state = HCLIENT_REQ_RUNNING;
	req->cb = cb;
	req->arg = arg;
	req->port = port;
	memcpy(req->host, name, strlen(name) + 1);
	snprintf(req->what, sizeof req->what, "%s %s", method, path);
	req->easy = c->n_spare > 0 ? c->spare[--c->n_spare] : curl_easy_init();
	if (req->easy == NULL) {
		rv = UV_ENOMEM;
		goto err;
	}
	rv = hclient__headers(req, extra_headers, has_type, body != NULL,
			      send_length);
	if (rv == 0) {
		rv = hclient__setup(req, url, method, body, body_len,
				    send_length, timeout_ms);
	}
	if (rv != 0) {
		goto err;
	}
	if (curl_multi_add_handle(c->multi, req->easy) != CURLM_OK) {
		rv = UV_ENOMEM;
		goto err;
	}
	req->next = c->reqs;
	if (c->reqs != NULL) {
		c->reqs->prev = req;
	}
	c->reqs = req;
	if (out != NULL) {
		*out = req;
	}
	return 0;

err:
	hclient__free(req);
	return rv;
}
