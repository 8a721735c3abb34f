/* Asynchronous HTTP/1.1 client on a libuv loop: one request per connection.
 *
 * Each request walks an explicit state machine:
 *
 *   RESOLVING -> CONNECTING -> HANDSHAKE -> WRITING -> READING -> CLOSING
 *        \            \            \            \          \
 *         +------------+------------+------------+----------+--> CLOSING
 *                                                        (any failure)
 *   CLOSING -> DONE
 *
 * The connection is a struct tls_conn: TLS with a context, plain TCP
 * without one (HANDSHAKE then lasts one loop turn).
 *
 * hclient__finish() is the only way into CLOSING and the only place the
 * user callback is invoked, so it fires exactly once. CLOSING lasts until
 * both handles have closed and any getaddrinfo request has returned; then
 * the request enters DONE and its memory is freed. */
#include "agent/hclient.h"

#include <assert.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

#include "agent/log.h"
#include "tls/tls.h"

#define HCLIENT_FIELD_MAX 16 /* longest header name we need to recognise */

enum hclient_state {
	HCLIENT_RESOLVING,  /* waiting for uv_getaddrinfo (or about to
			       connect to a literal address) */
	HCLIENT_CONNECTING, /* uv_tcp_connect in flight */
	HCLIENT_HANDSHAKE,  /* TLS handshake (plain: one loop turn) */
	HCLIENT_WRITING,    /* request bytes being written; reading too */
	HCLIENT_READING,    /* request sent; parsing the response */
	HCLIENT_CLOSING,    /* callback done; handles closing */
	HCLIENT_DONE,	    /* everything released; about to free */
	HCLIENT_NR_STATES
};

static const char *const hclient__state_names[HCLIENT_NR_STATES] = {
    [HCLIENT_RESOLVING] = "resolving", [HCLIENT_CONNECTING] = "connecting",
    [HCLIENT_HANDSHAKE] = "handshake", [HCLIENT_WRITING] = "writing",
    [HCLIENT_READING] = "reading",     [HCLIENT_CLOSING] = "closing",
    [HCLIENT_DONE] = "done",
};

/* What the host argument turned out to be. */
enum hclient_host_kind { HCLIENT_HOST_V4, HCLIENT_HOST_V6, HCLIENT_HOST_NAME };

/* Which kind of header data the parser delivered last. */
enum hclient_hdr { HCLIENT_HDR_NONE, HCLIENT_HDR_FIELD, HCLIENT_HDR_VALUE };

/* A growable byte buffer that always keeps room for a trailing NUL. */
struct hclient_buf {
	char *data; /* owned; NULL until the first append */
	size_t len;
	size_t cap;
};

struct hclient_req {
	enum hclient_state state;
	unsigned pending; /* closes and getaddrinfo still to come back */
	hclient_cb cb;	  /* NULL once called (or for a silent abort) */
	void *arg;	  /* borrowed */

	uv_getaddrinfo_t gai;
	uv_connect_t connect;
	struct tls_conn conn; /* TCP handle and, with a context, TLS */
	struct tls_ctx *tls;  /* borrowed, NULL: plain; its quiet table */
	uv_timer_t timer;
	uint16_t port;
	char host[HCLIENT_HOST_MAX]; /* for log lines */

	char *out; /* owned: the whole request, headers and body */
	size_t out_len;

	http_parser parser;
	bool is_head;  /* response to HEAD has no body */
	bool complete; /* a final response has been parsed */
	int err;       /* error raised from a parser callback, or 0 */
	enum hclient_hdr hdr;
	char field[HCLIENT_FIELD_MAX];
	size_t field_len; /* > HCLIENT_FIELD_MAX: too long to matter */
	bool in_location; /* current header value is Location's */
	bool have_location;
	struct hclient_buf location;
	struct hclient_buf body;
};

/* ---- state machine ---------------------------------------------------- */

#define HCLIENT_BIT(s) (1u << (s))

static void hclient__set_state(struct hclient_req *req, enum hclient_state next)
{
	static const unsigned allowed[HCLIENT_NR_STATES] = {
	    [HCLIENT_RESOLVING] =
		HCLIENT_BIT(HCLIENT_CONNECTING) | HCLIENT_BIT(HCLIENT_CLOSING),
	    [HCLIENT_CONNECTING] =
		HCLIENT_BIT(HCLIENT_HANDSHAKE) | HCLIENT_BIT(HCLIENT_CLOSING),
	    [HCLIENT_HANDSHAKE] =
		HCLIENT_BIT(HCLIENT_WRITING) | HCLIENT_BIT(HCLIENT_CLOSING),
	    [HCLIENT_WRITING] =
		HCLIENT_BIT(HCLIENT_READING) | HCLIENT_BIT(HCLIENT_CLOSING),
	    [HCLIENT_READING] = HCLIENT_BIT(HCLIENT_CLOSING),
	    [HCLIENT_CLOSING] = HCLIENT_BIT(HCLIENT_DONE),
	    [HCLIENT_DONE] = 0,
	};

	assert(req->state < HCLIENT_NR_STATES);
	if (!(allowed[req->state] & HCLIENT_BIT(next)))
		LOG_ERROR("hclient", "bad transition %s -> %s",
			  hclient__state_names[req->state],
			  hclient__state_names[next]);
	assert(allowed[req->state] & HCLIENT_BIT(next));
	/* The request line is the start of req->out. */
	LOG_DEBUG("hclient", "%s:%u %.*s: %s -> %s", req->host,
		  (unsigned)req->port, (int)strcspn(req->out, "\r"), req->out,
		  hclient__state_names[req->state], hclient__state_names[next]);
	req->state = next;
}

static void hclient__free(struct hclient_req *req)
{
	free(req->out);
	free(req->location.data);
	free(req->body.data);
	free(req);
}

/* One outstanding close or getaddrinfo came back. */
static void hclient__release(struct hclient_req *req)
{
	assert(req->pending > 0);
	req->pending--;
	if (req->pending == 0 && req->state == HCLIENT_CLOSING) {
		hclient__set_state(req, HCLIENT_DONE);
		hclient__free(req);
	}
}

static void hclient__on_close(uv_handle_t *handle)
{
	hclient__release(handle->data);
}

static void hclient__on_conn_close(struct tls_conn *conn)
{
	hclient__release(conn->data);
}

/* The single completion point: stop everything, close the handles, run the
 * callback (unless this is a silent abort from hclient_request()). */
static void hclient__finish(struct hclient_req *req, int err)
{
	hclient_cb cb = req->cb;
	struct hclient_response resp;
	enum hclient_state prev = req->state;

	if (prev == HCLIENT_CLOSING || prev == HCLIENT_DONE) {
		return;
	}
	if (err != 0) {
		LOG_DEBUG("hclient", "%s:%u: %s in state %s", req->host,
			  (unsigned)req->port, hclient_strerror(err),
			  hclient__state_names[prev]);
	}
	hclient__set_state(req, HCLIENT_CLOSING);
	req->cb = NULL;

	uv_timer_stop(&req->timer);
	if (prev == HCLIENT_RESOLVING && req->pending > 0) {
		/* Fails with UV_EBUSY once the lookup is running; either way
		 * its callback still comes and releases its share. */
		uv_cancel((uv_req_t *)&req->gai);
	}
	req->pending += 2;
	uv_close((uv_handle_t *)&req->timer, hclient__on_close);
	tls_conn_close(&req->conn, hclient__on_conn_close);

	if (cb == NULL) {
		return;
	}
	if (err != 0) {
		cb(req->arg, err, NULL);
		return;
	}
	resp.status = (int)req->parser.status_code;
	resp.body = req->body.data != NULL ? req->body.data : "";
	resp.body_len = req->body.len;
	resp.location = req->have_location ? req->location.data : NULL;
	cb(req->arg, 0, &resp);
}

/* ---- response parsing ------------------------------------------------- */

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
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int hclient__on_message_begin(http_parser *p)
{
	struct hclient_req *req = p->data;

	/* Also runs again after an interim 1xx response: start afresh. */
	req->hdr = HCLIENT_HDR_NONE;
	req->field_len = 0;
	req->in_location = false;
	req->have_location = false;
	req->location.len = 0;
	req->body.len = 0;
	return 0;
}

static int hclient__on_header_field(http_parser *p, const char *at, size_t len)
{
	struct hclient_req *req = p->data;

	if (req->hdr != HCLIENT_HDR_FIELD) {
		req->hdr = HCLIENT_HDR_FIELD;
		req->field_len = 0;
	}
	if (req->field_len <= HCLIENT_FIELD_MAX &&
	    len <= HCLIENT_FIELD_MAX - req->field_len) {
		memcpy(req->field + req->field_len, at, len);
		req->field_len += len;
	} else {
		req->field_len = HCLIENT_FIELD_MAX + 1;
	}
	return 0;
}

static int hclient__on_header_value(http_parser *p, const char *at, size_t len)
{
	struct hclient_req *req = p->data;
	int rv;

	if (req->hdr != HCLIENT_HDR_VALUE) {
		req->hdr = HCLIENT_HDR_VALUE;
		req->in_location = req->field_len == 8 &&
				   strncasecmp(req->field, "location", 8) == 0;
		if (req->in_location) {
			/* The last Location header wins. */
			req->location.len = 0;
			rv = hclient__buf_append(&req->location, "", 0,
						 HCLIENT_LOCATION_MAX - 1);
			if (rv != 0) {
				req->err = rv;
				return -1;
			}
			req->have_location = true;
		}
	}
	if (req->in_location) {
		rv = hclient__buf_append(&req->location, at, len,
					 HCLIENT_LOCATION_MAX - 1);
		if (rv != 0) {
			req->err = rv;
			return -1;
		}
	}
	return 0;
}

static int hclient__on_headers_complete(http_parser *p)
{
	struct hclient_req *req = p->data;
	struct hclient_buf *loc = &req->location;

	if (req->have_location) {
		while (loc->len > 0 && (loc->data[loc->len - 1] == ' ' ||
					loc->data[loc->len - 1] == '\t')) {
			loc->data[--loc->len] = '\0';
		}
	}
	if ((p->flags & F_CONTENTLENGTH) != 0 &&
	    p->content_length > HCLIENT_BODY_MAX) {
		req->err = UV_E2BIG;
		return -1;
	}
	if (p->status_code < 100 || p->status_code > 999) {
		req->err = UV_EPROTO;
		return -1;
	}
	return req->is_head ? 1 : 0;
}

static int hclient__on_body(http_parser *p, const char *at, size_t len)
{
	struct hclient_req *req = p->data;
	int rv;

	rv = hclient__buf_append(&req->body, at, len, HCLIENT_BODY_MAX);
	if (rv != 0) {
		req->err = rv;
		return -1;
	}
	return 0;
}

static int hclient__on_message_complete(http_parser *p)
{
	struct hclient_req *req = p->data;

	if (p->status_code < 200) {
		return 0; /* interim response; the final one follows */
	}
	req->complete = true;
	/* Ignore whatever follows; the connection is closed next. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings hclient__settings = {
    .on_message_begin = hclient__on_message_begin,
    .on_header_field = hclient__on_header_field,
    .on_header_value = hclient__on_header_value,
    .on_headers_complete = hclient__on_headers_complete,
    .on_body = hclient__on_body,
    .on_message_complete = hclient__on_message_complete,
};

/* Feed received bytes (len 0: end of stream) and finish if that decided
 * the outcome. */
static void hclient__feed(struct hclient_req *req, const char *data, size_t len)
{
	enum http_errno e;

	http_parser_execute(&req->parser, &hclient__settings, data, len);
	e = HTTP_PARSER_ERRNO(&req->parser);
	if (req->complete) {
		hclient__finish(req, 0);
	} else if (req->err != 0) {
		hclient__finish(req, req->err);
	} else if (e != HPE_OK) {
		hclient__finish(req, len == 0 ? UV_EOF : UV_EPROTO);
	} else if (req->parser.upgrade) {
		hclient__finish(req, UV_EPROTO);
	} else if (len == 0) {
		hclient__finish(req, UV_EOF);
	}
}

/* ---- I/O callbacks ---------------------------------------------------- */

static void hclient__on_read(struct tls_conn *conn, ssize_t nread,
			     const char *data)
{
	struct hclient_req *req = conn->data;

	if (req->state != HCLIENT_WRITING && req->state != HCLIENT_READING) {
		return;
	}
	if (nread == TLS_E_EOF) {
		hclient__feed(req, NULL, 0);
	} else if (nread < 0) {
		hclient__finish(req, (int)nread);
	} else if (nread > 0) {
		hclient__feed(req, data, (size_t)nread);
	}
}

static void hclient__on_write(struct tls_conn *conn, int status, void *arg)
{
	struct hclient_req *req = conn->data;

	(void)arg;
	if (req->state != HCLIENT_WRITING) {
		return; /* cancelled by the close, or already answered */
	}
	if (status < 0) {
		hclient__finish(req, status);
		return;
	}
	hclient__set_state(req, HCLIENT_READING);
}

static void hclient__on_handshake(struct tls_conn *conn, int status)
{
	struct hclient_req *req = conn->data;
	uv_buf_t buf;
	int rv;

	if (req->state != HCLIENT_HANDSHAKE) {
		return;
	}
	if (status < 0) {
		const char *why = conn->errmsg[0] != '\0'
				      ? conn->errmsg
				      : hclient_strerror(status);
		char addr[HCLIENT_HOST_MAX + 8];
		char msg[TLS_ERRMSG_LEN + 64];

		/* heartbeats retry every few hundred ms: once a minute */
		snprintf(addr, sizeof addr, "%s:%u", req->host,
			 (unsigned)req->port);
		if (req->tls == NULL ||
		    tls_quiet_pass(&req->tls->quiet, addr, why,
				   uv_now(req->conn.loop), msg, sizeof msg))
			LOG_WARN("hclient", "%s: %s", addr,
				 req->tls != NULL ? msg : why);
		hclient__finish(req, status);
		return;
	}
	/* Reading runs already, so an early answer or reset is seen. */
	hclient__set_state(req, HCLIENT_WRITING);
	buf = uv_buf_init(req->out, (unsigned)req->out_len);
	rv = tls_conn_write(&req->conn, &buf, 1, hclient__on_write, NULL);
	if (rv != 0) {
		hclient__finish(req, rv);
	}
}

static void hclient__on_connect(uv_connect_t *connect, int status)
{
	struct hclient_req *req = connect->data;
	int rv;

	if (req->state != HCLIENT_CONNECTING) {
		return; /* UV_ECANCELED from the close */
	}
	if (status < 0) {
		hclient__finish(req, status);
		return;
	}
	hclient__set_state(req, HCLIENT_HANDSHAKE);
	rv =
	    tls_conn_start(&req->conn, hclient__on_handshake, hclient__on_read);
	if (rv != 0) {
		hclient__finish(req, rv);
	}
}

static int hclient__connect(struct hclient_req *req,
			    const struct sockaddr *addr)
{
	hclient__set_state(req, HCLIENT_CONNECTING);
	req->connect.data = req;
	return uv_tcp_connect(&req->connect, &req->conn.tcp, addr,
			      hclient__on_connect);
}

static void hclient__on_resolved(uv_getaddrinfo_t *gai, int status,
				 struct addrinfo *res)
{
	struct hclient_req *req = gai->data;
	struct sockaddr_storage addr;
	struct addrinfo *ai;
	int rv;

	if (req->state != HCLIENT_RESOLVING) {
		/* Finished meanwhile (timeout, cancel): this was the last
		 * thing it waited for, or close callbacks still are. */
		uv_freeaddrinfo(res);
		hclient__release(req);
		return;
	}
	hclient__release(req); /* still RESOLVING: cannot free */
	if (status < 0) {
		uv_freeaddrinfo(res);
		hclient__finish(req, status);
		return;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6) {
			break;
		}
	}
	if (ai == NULL || ai->ai_addrlen > sizeof addr) {
		uv_freeaddrinfo(res);
		hclient__finish(req, UV_EAI_NONAME);
		return;
	}
	memset(&addr, 0, sizeof addr);
	memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
	uv_freeaddrinfo(res);
	if (addr.ss_family == AF_INET) {
		((struct sockaddr_in *)&addr)->sin_port = htons(req->port);
	} else {
		((struct sockaddr_in6 *)&addr)->sin6_port = htons(req->port);
	}
	rv = hclient__connect(req, (struct sockaddr *)&addr);
	if (rv != 0) {
		hclient__finish(req, rv);
	}
}

static void hclient__on_timeout(uv_timer_t *timer)
{
	hclient__finish(timer->data, UV_ETIMEDOUT);
}

/* ---- argument checks and request formatting --------------------------- */

static bool hclient__is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static bool hclient__is_tchar(char c)
{
	return hclient__is_alnum(c) ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* An HTTP token (method or header name) of n bytes. */
static bool hclient__valid_token(const char *s, size_t n)
{
	size_t i;

	if (n == 0) {
		return false;
	}
	for (i = 0; i < n; i++) {
		if (!hclient__is_tchar(s[i])) {
			return false;
		}
	}
	return true;
}

/* Visible ASCII only: no space, control, DEL or non-ASCII byte. */
static bool hclient__visible(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if ((unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] >= 0x7f) {
			return false;
		}
	}
	return true;
}

/* Origin-form request target: '/' then visible ASCII. */
static bool hclient__valid_target(const char *s, size_t n)
{
	return n > 0 && s[0] == '/' && hclient__visible(s, n);
}

/* Check extra_headers ("Name: value\r\n"...) and note whether it carries a
 * Content-Type. */
static bool hclient__valid_extra(const char *s, bool *has_type)
{
	static const char *const reserved[] = {
	    "host", "content-length", "connection", "transfer-encoding"};
	const char *line = s;
	const char *eol;
	const char *colon;
	size_t name_len;
	size_t i;

	*has_type = false;
	if (s == NULL) {
		return true;
	}
	while (*line != '\0') {
		eol = strstr(line, "\r\n");
		if (eol == NULL) {
			return false;
		}
		colon = memchr(line, ':', (size_t)(eol - line));
		if (colon == NULL) {
			return false;
		}
		name_len = (size_t)(colon - line);
		if (!hclient__valid_token(line, name_len)) {
			return false;
		}
		for (i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
			if (strlen(reserved[i]) == name_len &&
			    strncasecmp(line, reserved[i], name_len) == 0) {
				return false;
			}
		}
		if (name_len == 12 &&
		    strncasecmp(line, "content-type", name_len) == 0) {
			*has_type = true;
		}
		for (colon++; colon < eol; colon++) {
			unsigned char c = (unsigned char)*colon;
			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				return false;
			}
		}
		line = eol + 2;
	}
	return true;
}

/* Classify and check a host (name, literal, or [literal]), copying it
 * without brackets into name (HCLIENT_HOST_MAX bytes). For literals and
 * "localhost" fill addr with the given port. */
static int hclient__host(const char *host, uint16_t port, char *name,
			 struct sockaddr_storage *addr,
			 enum hclient_host_kind *kind)
{
	size_t len = strlen(host);
	size_t i;

	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
		if (memchr(host, ':', len) == NULL) {
			return UV_EINVAL;
		}
	}
	if (len == 0 || len >= HCLIENT_HOST_MAX) {
		return UV_EINVAL;
	}
	memcpy(name, host, len);
	name[len] = '\0';

	memset(addr, 0, sizeof *addr);
	if (strcasecmp(name, "localhost") == 0) {
		*kind = HCLIENT_HOST_V4;
		return uv_ip4_addr("127.0.0.1", port,
				   (struct sockaddr_in *)addr);
	}
	if (strchr(name, ':') != NULL) {
		for (i = 0; i < len; i++) {
			if (name[i] == '%') {
				break; /* zone id: checked by uv_ip6_addr */
			}
			if (!hclient__is_alnum(name[i]) && name[i] != ':' &&
			    name[i] != '.') {
				return UV_EINVAL;
			}
		}
		*kind = HCLIENT_HOST_V6;
		return uv_ip6_addr(name, port, (struct sockaddr_in6 *)addr) == 0
			   ? 0
			   : UV_EINVAL;
	}
	if (uv_ip4_addr(name, port, (struct sockaddr_in *)addr) == 0) {
		*kind = HCLIENT_HOST_V4;
		return 0;
	}
	for (i = 0; i < len; i++) {
		if (!hclient__is_alnum(name[i]) && name[i] != '.' &&
		    name[i] != '-' && name[i] != '_') {
			return UV_EINVAL;
		}
	}
	*kind = HCLIENT_HOST_NAME;
	return 0;
}

/* Build the request bytes into req->out. */
static int hclient__format(struct hclient_req *req, const char *method,
			   const char *name, enum hclient_host_kind kind,
			   uint16_t port, const char *path, const char *extra,
			   bool has_type, const char *body, size_t body_len)
{
	char hostport[HCLIENT_HOST_MAX + 16];
	char length[48];
	const char *type = "";
	size_t name_len = strcspn(name, "%"); /* no zone id in Host */
	bool send_length;
	int n;

	if (kind == HCLIENT_HOST_V6) {
		n = snprintf(hostport, sizeof hostport, "[%.*s]", (int)name_len,
			     name);
	} else {
		n = snprintf(hostport, sizeof hostport, "%s", name);
	}
	if (port != 80) {
		n += snprintf(hostport + n, sizeof hostport - (size_t)n, ":%u",
			      (unsigned)port);
	}
	send_length = body != NULL || (strcmp(method, "GET") != 0 &&
				       strcmp(method, "HEAD") != 0);
	length[0] = '\0';
	if (send_length) {
		snprintf(length, sizeof length, "Content-Length: %zu\r\n",
			 body_len);
	}
	if (body != NULL && !has_type) {
		type = "Content-Type: application/json\r\n";
	}
	if (extra == NULL) {
		extra = "";
	}
	n = snprintf(NULL, 0,
		     "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
		     "%s%s%s\r\n",
		     method, path, hostport, type, length, extra);
	if (n < 0 || (size_t)n > SIZE_MAX - body_len - 1 ||
	    (size_t)n + body_len > UINT_MAX) {
		return UV_EINVAL;
	}
	req->out = malloc((size_t)n + body_len + 1);
	if (req->out == NULL) {
		return UV_ENOMEM;
	}
	snprintf(req->out, (size_t)n + 1,
		 "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
		 "%s%s%s\r\n",
		 method, path, hostport, type, length, extra);
	if (body_len > 0) {
		memcpy(req->out + n, body, body_len);
	}
	req->out_len = (size_t)n + body_len;
	return 0;
}

/* ---- public API ------------------------------------------------------- */

int hclient_request(uv_loop_t *loop, const char *method, const char *host,
		    uint16_t port, const char *path, const char *extra_headers,
		    const char *body, size_t body_len, unsigned timeout_ms,
		    hclient_cb cb, void *arg, struct hclient_req **out)
{
	return hclient_request_tls(loop, NULL, method, host, port, path,
				   extra_headers, body, body_len, timeout_ms,
				   cb, arg, out);
}

const char *hclient_strerror(int err) { return tls_strerror(err); }

int hclient_request_tls(uv_loop_t *loop, struct tls_ctx *tls,
			const char *method, const char *host, uint16_t port,
			const char *path, const char *extra_headers,
			const char *body, size_t body_len, unsigned timeout_ms,
			hclient_cb cb, void *arg, struct hclient_req **out)
{
	struct hclient_req *req;
	struct sockaddr_storage addr;
	struct addrinfo hints;
	enum hclient_host_kind kind;
	char name[HCLIENT_HOST_MAX];
	bool has_type;
	int rv;

	if (loop == NULL || method == NULL || host == NULL || path == NULL ||
	    cb == NULL || port == 0 || timeout_ms == 0 ||
	    (body == NULL && body_len != 0)) {
		return UV_EINVAL;
	}
	if (!hclient__valid_token(method, strlen(method)) ||
	    !hclient__valid_target(path, strlen(path)) ||
	    !hclient__valid_extra(extra_headers, &has_type)) {
		return UV_EINVAL;
	}
	rv = hclient__host(host, port, name, &addr, &kind);
	if (rv != 0) {
		return rv;
	}

	req = calloc(1, sizeof *req);
	if (req == NULL) {
		return UV_ENOMEM;
	}
	rv = hclient__format(req, method, name, kind, port, path, extra_headers,
			     has_type, body, body_len);
	if (rv != 0) {
		goto err_after_alloc;
	}
	req->state = HCLIENT_RESOLVING;
	req->cb = cb;
	req->arg = arg;
	req->port = port;
	memcpy(req->host, name, strlen(name) + 1);
	req->is_head = strcmp(method, "HEAD") == 0;
	http_parser_init(&req->parser, HTTP_RESPONSE);
	req->parser.data = req;

	rv = tls_conn_init(&req->conn, loop, tls, TLS_CLIENT, TLS_ROLE_AGENT);
	if (rv != 0) {
		goto err_after_alloc;
	}
	req->conn.data = req;
	req->tls = tls;
	rv = uv_timer_init(loop, &req->timer);
	if (rv != 0) {
		goto err_after_tcp_init;
	}
	req->timer.data = req;

	/* From here on handles exist: failures go through hclient__finish()
	 * with the callback cleared, so it never fires. */
	rv = uv_timer_start(&req->timer, hclient__on_timeout, timeout_ms, 0);
	if (rv != 0) {
		goto err_silent;
	}
	if (kind == HCLIENT_HOST_NAME) {
		memset(&hints, 0, sizeof hints);
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_protocol = IPPROTO_TCP;
		req->gai.data = req;
		req->pending++;
		rv = uv_getaddrinfo(loop, &req->gai, hclient__on_resolved, name,
				    NULL, &hints);
		if (rv != 0) {
			req->pending--;
			goto err_silent;
		}
	} else {
		rv = hclient__connect(req, (struct sockaddr *)&addr);
		if (rv != 0) {
			goto err_silent;
		}
	}
	if (out != NULL) {
		*out = req;
	}
	return 0;

err_silent:
	req->cb = NULL;
	hclient__finish(req, rv);
	return rv;

err_after_tcp_init:
	hclient__set_state(req, HCLIENT_CLOSING);
	req->pending = 1;
	tls_conn_close(&req->conn, hclient__on_conn_close);
	return rv;

err_after_alloc:
	hclient__free(req);
	return rv;
}

void hclient_cancel(struct hclient_req *req)
{
	assert(req != NULL);
	hclient__finish(req, UV_ECANCELED);
}

/* Scheme per RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ). */
static bool hclient__valid_scheme(const char *s, size_t n)
{
	size_t i;

	if (n == 0 ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z'))) {
		return false;
	}
	for (i = 1; i < n; i++) {
		if (!hclient__is_alnum(s[i]) && s[i] != '+' && s[i] != '-' &&
		    s[i] != '.') {
			return false;
		}
	}
	return true;
}

int hclient_parse_url(const char *url, char *host, size_t hostlen,
		      uint16_t *port, char *path, size_t pathlen)
{
	struct http_parser_url u;
	struct sockaddr_storage addr;
	enum hclient_host_kind kind;
	char name[HCLIENT_HOST_MAX];
	char plain[HCLIENT_HOST_MAX];
	const char *sep;
	size_t h_off;
	size_t h_len;
	size_t t_off;
	size_t t_end;
	bool bracketed;
	bool slash;
	uint16_t port_num;
	int rv;

	if (url == NULL || host == NULL || port == NULL) {
		return UV_EINVAL;
	}
	sep = strstr(url, "://");
	if (sep == NULL || !hclient__valid_scheme(url, (size_t)(sep - url))) {
		return UV_EINVAL;
	}
	if (sep - url == 4 && strncasecmp(url, "http", 4) == 0) {
		port_num = 80;
	} else if (sep - url == 5 && strncasecmp(url, "https", 5) == 0) {
		port_num = 443;
	} else {
		return UV_EPROTONOSUPPORT;
	}

	http_parser_url_init(&u);
	if (http_parser_parse_url(url, strlen(url), 0, &u) != 0) {
		return UV_EINVAL;
	}
	if ((u.field_set & (1 << UF_USERINFO)) != 0 ||
	    (u.field_set & (1 << UF_HOST)) == 0) {
		return UV_EINVAL;
	}
	h_off = u.field_data[UF_HOST].off;
	h_len = u.field_data[UF_HOST].len;
	if (h_len == 0 || h_len >= sizeof name) {
		return UV_EINVAL;
	}
	bracketed = h_off > 0 && url[h_off - 1] == '[';
	memcpy(name, url + h_off, h_len);
	name[h_len] = '\0';
	if ((u.field_set & (1 << UF_PORT)) != 0) {
		if (u.field_data[UF_PORT].len == 0 || u.port == 0) {
			return UV_EINVAL;
		}
		port_num = u.port;
	}
	rv = hclient__host(name, port_num, plain, &addr, &kind);
	if (rv != 0 || (kind == HCLIENT_HOST_V6) != bracketed) {
		return UV_EINVAL;
	}

	/* Target: path and query, without the fragment; "/" if no path. */
	slash = (u.field_set & (1 << UF_PATH)) == 0;
	if (!slash) {
		t_off = u.field_data[UF_PATH].off;
		t_end = t_off + u.field_data[UF_PATH].len;
	} else if ((u.field_set & (1 << UF_QUERY)) != 0) {
		t_off = u.field_data[UF_QUERY].off - 1U; /* the '?' */
		t_end = t_off;
	} else {
		t_off = t_end = 0;
	}
	if ((u.field_set & (1 << UF_QUERY)) != 0) {
		t_end = (size_t)u.field_data[UF_QUERY].off +
			u.field_data[UF_QUERY].len;
	}
	if (!hclient__visible(url + t_off, t_end - t_off)) {
		return UV_EINVAL;
	}
	if (h_len + 1 > hostlen ||
	    (path != NULL && (slash ? 1 : 0) + t_end - t_off + 1 > pathlen)) {
		return UV_ENOBUFS;
	}
	memcpy(host, name, h_len + 1);
	if (path != NULL) {
		if (slash) {
			*path++ = '/';
		}
		memcpy(path, url + t_off, t_end - t_off);
		path[t_end - t_off] = '\0';
	}
	*port = port_num;
	return 0;
}
