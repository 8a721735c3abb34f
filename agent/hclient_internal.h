/* hclient's internals shared by its files: hclient.c (the client, libcurl
 * on the loop, requests), hclient_tls.c (TLS set-up and failures),
 * hclient_url.c (argument checks and URL parsing). Not for other modules. */
#ifndef POOLPAIR_AGENT_HCLIENT_INTERNAL_H
#define POOLPAIR_AGENT_HCLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <uv.h>

#include "agent/hclient.h"
#include "tls/tls.h"

/* A socket libcurl asked to watch. Owned by its client's list until
 * libcurl removes it (or the client closes); freed in the close callback
 * of its poll handle. */
struct hclient_sock {
	uv_poll_t poll;
	struct hclient *client;		  /* borrowed */
	curl_socket_t fd;		  /* libcurl's; closed by libcurl */
	struct hclient_sock *prev, *next; /* in client->socks */
};

enum hclient_req_state {
	HCLIENT_REQ_RUNNING, /* added to the multi handle */
	HCLIENT_REQ_DONE,    /* callback running; freed when it returns */
	HCLIENT_REQ_NR_STATES
};

/* A growable byte buffer that always keeps room for a trailing NUL. */
struct hclient_buf {
	char *data; /* owned; NULL until the first append */
	size_t len;
	size_t cap;
};

struct hclient_req {
	struct hclient *client;		 /* borrowed */
	struct hclient_req *prev, *next; /* in client->reqs */
	int state;			 /* enum hclient_req_state */
	CURL *easy;			 /* owned */
	struct curl_slist *headers;	 /* owned */
	hclient_cb cb;
	void *arg;		     /* borrowed */
	char host[HCLIENT_HOST_MAX]; /* for log lines */
	uint16_t port;
	char what[96]; /* "METHOD path", cut, for log lines */
	int err;       /* decided by one of our libcurl callbacks, or 0 */
	struct hclient_buf body;
	struct hclient_buf location;
	bool have_location;
	int last_status;   /* of the last status line seen, or 0 */
	bool headers_done; /* the last response's header block ended */
	/* TLS: the connection this request opened, when it did */
	void *ssl_ctx;	    /* its SSL_CTX: compared, never dereferenced */
	long verify_result; /* X509_V_OK, or why the server's certificate
			       was refused */
	int peer_role;	    /* TLS_ROLE_* of the server's certificate */
	char peer_identity[TLS_NAME_LEN];
	char errbuf[CURL_ERROR_SIZE]; /* libcurl's message */
};

/* What a host argument turned out to be. */
enum hclient_host_kind { HCLIENT_HOST_V4, HCLIENT_HOST_V6, HCLIENT_HOST_NAME };

/* ---- hclient_url.c ---- */

/* An HTTP token (method or header name) of n bytes. */
bool hclient__valid_token(const char *s, size_t n);

/* Origin-form request target: '/' then visible ASCII. */
bool hclient__valid_target(const char *s, size_t n);

/* Check extra_headers ("Name: value\r\n"... or NULL) and note whether it
 * carries a Content-Type. */
bool hclient__valid_extra(const char *s, bool *has_type);

/* Classify and check a host (name, literal, or [literal]), copying it
 * without brackets into name (HCLIENT_HOST_MAX bytes). Returns 0 or
 * UV_EINVAL. */
int hclient__host(const char *host, char *name, enum hclient_host_kind *kind);

/* CURLOPT_SOCKOPTFUNCTION: thin-stream TCP (tls/tcp_thin.h) on every
 * connection the client opens, before it connects. Always
 * CURL_SOCKOPT_OK: a socket without the options still works. */
int hclient__sockopt(void *arg, curl_socket_t fd, curlsocktype purpose);

/* ---- hclient_tls.c ---- */

/* Set the TLS options of req's easy handle (the client has a context).
 * Returns 0 or UV_ENOMEM. */
int hclient__tls_setup(struct hclient_req *req);

/* The outcome of a transfer that libcurl failed with rc, when it is a
 * matter of TLS: a TLS_E_* code with why (len bytes) saying what happened
 * for the log, or UV_EOF (the peer closed the session without
 * close_notify after the handshake). 0 when it is not TLS's. */
int hclient__tls_outcome(struct hclient_req *req, CURLcode rc, char *why,
			 size_t len);

#endif /* POOLPAIR_AGENT_HCLIENT_INTERNAL_H */
