/* http_parse: everything the HTTP server takes from http-parser 2.9 (the
 * only file of the server that includes http_parser.h, so another parser is
 * a change here alone): the request parser, whose callbacks fill the
 * request being parsed, enforce the header and body limits, pick the
 * requests to stream and pause where the connection takes over (PAUSE_*);
 * method names; status reason phrases. See http_internal.h. */
#include "agent/http_internal.h"
#include "agent/http_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>

struct http_parse {
	http_parser parser;
};

/* Appends @n bytes to the NUL-terminated string *@s of length *@len. */
static int str_append(char **s, size_t *len, const char *at, size_t n)
{
	char *p = realloc(*s, *len + n + 1);

	if (p == NULL) {
		return UV_ENOMEM;
	}
	memcpy(p + *len, at, n);
	*len += n;
	p[*len] = '\0';
	*s = p;
	return 0;
}

/* ---- methods ---- */

/* The server's name of an http-parser method. */
static enum http_method_id method_id(enum http_method m)
{
	switch (m) {
	case HTTP_DELETE:
		return HTTP_METHOD_DELETE;
	case HTTP_GET:
		return HTTP_METHOD_GET;
	case HTTP_HEAD:
		return HTTP_METHOD_HEAD;
	case HTTP_POST:
		return HTTP_METHOD_POST;
	case HTTP_PUT:
		return HTTP_METHOD_PUT;
	case HTTP_CONNECT:
		return HTTP_METHOD_CONNECT;
	case HTTP_OPTIONS:
		return HTTP_METHOD_OPTIONS;
	case HTTP_TRACE:
		return HTTP_METHOD_TRACE;
	case HTTP_PATCH:
		return HTTP_METHOD_PATCH;
	default:
		return HTTP_METHOD_OTHER;
	}
}

/* The method of the request being parsed: its name and its id. */
static void request_set_method(struct http_request *req, const http_parser *p)
{
	enum http_method m = (enum http_method)p->method;

	req->method = http_method_str(m);
	req->method_id = method_id(m);
}

/* ---- parser callbacks ---- */

static int on_message_begin(http_parser *p)
{
	struct http_conn *c = p->data;

	c->header_bytes = 0;
	c->headers_done = 0;
	if (c->req == NULL) {
		c->req = http_conn_request_new(c);
	}
	if (c->req == NULL) {
		http_conn_reject(c, REJECT_SILENT, NULL, NULL);
		return -1;
	}
	return 0;
}

/* Counts request-line and header bytes; rejects with 431 past the limit. */
static int count_header_bytes(struct http_conn *c, size_t n)
{
	c->header_bytes += n;
	if (c->header_bytes > c->server->max_header) {
		http_conn_reject(c, 431, "too_large",
				 "request headers too large");
		return -1;
	}
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	struct http_request *req = c->req;

	if (count_header_bytes(c, n) != 0) {
		return -1;
	}
	if (req->url == NULL) {
		request_set_method(req, p);
	}
	if (str_append(&req->url, &req->url_len, at, n) != 0) {
		http_conn_reject(c, REJECT_SILENT, NULL, NULL);
		return -1;
	}
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	struct http_request *req = c->req;
	struct http_header *h;

	if (count_header_bytes(c, n) != 0) {
		return -1;
	}
	if (c->headers_done) {
		return 0; /* trailer of a chunked body: counted, not kept */
	}
	if (req->n_headers == 0 || req->last_was_value) {
		if (count_header_bytes(c, 4) != 0) { /* ": " and CRLF */
			return -1;
		}
		if (req->n_headers == req->cap_headers) {
			size_t cap =
			    req->cap_headers ? 2 * req->cap_headers : 8;
			struct http_header *hs;

			hs = realloc(req->headers, cap * sizeof *hs);
			if (hs == NULL) {
				goto err_nomem;
			}
			req->headers = hs;
			req->cap_headers = cap;
		}
		h = &req->headers[req->n_headers];
		h->name = NULL;
		h->value = strdup("");
		if (h->value == NULL) {
			goto err_nomem;
		}
		req->n_headers++;
		req->name_len = 0;
		req->value_len = 0;
		req->last_was_value = 0;
	}
	h = &req->headers[req->n_headers - 1];
	if (str_append(&h->name, &req->name_len, at, n) != 0) {
		goto err_nomem;
	}
	return 0;

err_nomem:
	http_conn_reject(c, REJECT_SILENT, NULL, NULL);
	return -1;
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	struct http_request *req = c->req;
	struct http_header *h;

	if (count_header_bytes(c, n) != 0) {
		return -1;
	}
	if (c->headers_done || req->n_headers == 0) {
		return 0;
	}
	h = &req->headers[req->n_headers - 1];
	if (h->name == NULL) {
		/* a value needs a name; the parser never does this */
		http_conn_reject(c, 400, "bad_request",
				 "header value without name");
		return -1;
	}
	req->last_was_value = 1;
	if (str_append(&h->value, &req->value_len, at, n) != 0) {
		http_conn_reject(c, REJECT_SILENT, NULL, NULL);
		return -1;
	}
	return 0;
}

/* Splits the request target into the decoded path and the raw query. */
static int request_parse_target(struct http_conn *c, struct http_request *req)
{
	struct http_parser_url u;
	const char *path = "/";
	size_t path_len = 1;
	int rv;

	if (req->url == NULL || req->url_len > UINT16_MAX) {
		http_conn_reject(c, 400, "bad_request",
				 "invalid request target");
		return -1;
	}
	http_parser_url_init(&u);
	if (http_parser_parse_url(req->url, req->url_len,
				  req->method_id == HTTP_METHOD_CONNECT,
				  &u) != 0) {
		http_conn_reject(c, 400, "bad_request",
				 "invalid request target");
		return -1;
	}
	if (http_util_has_control(req->url, req->url_len)) {
		http_conn_reject(c, 400, "bad_request",
				 "control character in request target");
		return -1;
	}
	if (u.field_set & (1u << UF_PATH)) {
		path = req->url + u.field_data[UF_PATH].off;
		path_len = u.field_data[UF_PATH].len;
	}
	/* the decoded path, then the path as sent */
	req->path_buf = malloc(2 * (path_len + 1));
	if (req->path_buf == NULL) {
		http_conn_reject(c, REJECT_SILENT, NULL, NULL);
		return -1;
	}
	rv = http_util_path_decode(path, path_len, req->path_buf,
				   path_len + 1);
	if (rv == UV_EILSEQ) {
		/* never handed on: it could end up in a header (Location) */
		http_conn_reject(c, 400, "bad_request",
				 "control character in path");
		return -1;
	}
	if (rv != 0) {
		http_conn_reject(c, 400, "bad_request",
				 "invalid percent-encoding in path");
		return -1;
	}
	req->path = req->path_buf;
	memcpy(req->path_buf + path_len + 1, path, path_len);
	req->path_buf[2 * path_len + 1] = '\0';
	req->raw_path = req->path_buf + path_len + 1;
	if (u.field_set & (1u << UF_QUERY)) {
		req->query_buf = strndup(req->url + u.field_data[UF_QUERY].off,
					 u.field_data[UF_QUERY].len);
		if (req->query_buf == NULL) {
			http_conn_reject(c, REJECT_SILENT, NULL, NULL);
			return -1;
		}
		req->query = req->query_buf;
	}
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct http_conn *c = p->data;
	struct http_request *req = c->req;
	const char *expect;
	int has_body;
	size_t i;

	c->headers_done = 1;
	for (i = 0; i < req->n_headers; i++) {
		char *v = req->headers[i].value;
		size_t n = strlen(v);

		while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
			v[--n] = '\0';
		}
	}
	req->http_major = p->http_major;
	req->http_minor = p->http_minor;
	request_set_method(req, p);
	if (request_parse_target(c, req) != 0) {
		return -1;
	}
	has_body = (p->flags & F_CHUNKED) != 0 ||
		   ((p->flags & F_CONTENTLENGTH) && p->content_length > 0);
	expect = http_request_header(req, "Expect");
	req->body_limit = c->server->max_body;
	c->phase = PHASE_BODY;
	c->window_end = 0;
	c->window_left = 0;
	c->window_bytes = 0;
	if (has_body && c->server->on_head != NULL) {
		struct http_head_verdict v;

		memset(&v, 0, sizeof v);
		c->server->on_head(c->server->data, req, &v);
		if (v.status != 0) {
			/* before the body and before any 100 Continue */
			snprintf(c->reject_buf, sizeof c->reject_buf, "%s",
				 v.message);
			http_conn_reject(c, v.status,
					 v.code != NULL ? v.code : "refused",
					 c->reject_buf);
			return -1;
		}
		if (v.max_body != 0) {
			req->body_limit = v.max_body;
		}
	}
	if (has_body && c->server->stream_match != NULL &&
	    c->server->stream_match(c->server->data, req)) {
		req->streaming = 1;
		req->expect_continue =
		    expect != NULL && strcasecmp(expect, "100-continue") == 0 &&
		    (p->http_major > 1 ||
		     (p->http_major == 1 && p->http_minor >= 1));
		/* to the handler now; the body waits for it */
		c->pause = PAUSE_HEADERS;
		http_parser_pause(p, 1);
		return 0;
	}
	if ((p->flags & F_CONTENTLENGTH) && p->content_length > 0) {
		if (p->content_length > req->body_limit) {
			http_conn_reject(c, 413, "too_large",
					 "request body too large");
			return -1;
		}
		req->body_buf = malloc((size_t)p->content_length + 1);
		if (req->body_buf == NULL) {
			http_conn_reject(c, REJECT_SILENT, NULL, NULL);
			return -1;
		}
		req->body_cap = (size_t)p->content_length + 1;
	}
	if (has_body && expect != NULL &&
	    strcasecmp(expect, "100-continue") == 0 &&
	    (p->http_major > 1 || (p->http_major == 1 && p->http_minor >= 1))) {
		if (http_respond_continue(c) != 0) {
			http_conn_reject(c, REJECT_SILENT, NULL, NULL);
			return -1;
		}
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
	struct http_conn *c = p->data;
	struct http_request *req = c->req;

	if (req->streaming) {
		/* handed over by conn_process(), which stops the parser here */
		c->piece = at;
		c->piece_len = n;
		c->pause = PAUSE_BODY;
		http_parser_pause(p, 1);
		return 0;
	}
	if (n > req->body_limit - req->body_len) {
		http_conn_reject(c, 413, "too_large", "request body too large");
		return -1;
	}
	if (req->body_len + n + 1 > req->body_cap) {
		size_t cap = req->body_cap ? req->body_cap : 1024;
		char *b;

		while (cap < req->body_len + n + 1) {
			cap *= 2;
		}
		if (cap > req->body_limit + 1) {
			cap = req->body_limit + 1;
		}
		b = realloc(req->body_buf, cap);
		if (b == NULL) {
			http_conn_reject(c, REJECT_SILENT, NULL, NULL);
			return -1;
		}
		req->body_buf = b;
		req->body_cap = cap;
	}
	memcpy(req->body_buf + req->body_len, at, n);
	req->body_len += n;
	req->body_buf[req->body_len] = '\0';
	req->body = req->body_buf;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_conn *c = p->data;

	c->req->keep_alive = http_should_keep_alive(p) && !p->upgrade;
	/* Stop here: the next pipelined request waits for this answer. */
	c->pause = PAUSE_MESSAGE;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- the parser ---- */

int http_parse_init(struct http_conn *c)
{
	struct http_parse *p = malloc(sizeof *p);

	if (p == NULL) {
		return UV_ENOMEM;
	}
	http_parser_init(&p->parser, HTTP_REQUEST);
	p->parser.data = c;
	c->parse = p;
	return 0;
}

void http_parse_free(struct http_parse *p) { free(p); }

size_t http_parse_execute(struct http_conn *c, const char *data, size_t len,
			  enum http_parse_status *st, const char **why)
{
	http_parser *p = &c->parse->parser;
	size_t n = http_parser_execute(p, &parser_settings, data, len);
	enum http_errno e = HTTP_PARSER_ERRNO(p);

	*why = "";
	if (e == HPE_PAUSED) {
		http_parser_pause(p, 0);
		*st = HTTP_PARSE_PAUSED;
	} else if (e == HPE_OK) {
		*st = HTTP_PARSE_OK;
	} else {
		*why = http_errno_description(e);
		*st = e == HPE_HEADER_OVERFLOW ? HTTP_PARSE_HEADER_OVERFLOW
					       : HTTP_PARSE_ERROR;
	}
	return n;
}

const char *http_parse_reason_phrase(int status)
{
	const char *r = http_status_str((enum http_status)status);

	return strcmp(r, "<unknown>") == 0 ? "Unknown" : r;
}
