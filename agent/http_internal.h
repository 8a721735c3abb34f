/* http_internal: what the files of the HTTP server share; not used outside
 * them. The server's contract is http.h.
 *
 *   http_parse.c    the request parser: the only file that knows
 *                   http-parser, so another parser is a change there alone
 *   http_respond.c  answers, whole and streamed, and every write
 *   http_conn.c     the connection state machine, requests, reading,
 *                   streamed request bodies, closing
 *   http_server.c   listening, accepting, the connection limits (total,
 *                   unauthenticated, per address), closing the server
 *   http_util.c     string helpers (http_util.h)
 *
 * Every connection walks one state machine (http_conn_set_state() checks
 * each transition against the table in http_conn.c):
 *
 *   ACCEPTING --admitted--> HANDSHAKE --TLS up (plain: next turn)--> READING
 *   READING --request complete--> HANDLING
 *   READING --headers of a streamed request--> BODY --body read--> HANDLING
 *   HANDLING, BODY --http_respond--> WRITING
 *   HANDLING, BODY --http_respond_start--> SENDING --respond_end--> WRITING
 *   WRITING --written, keep-alive--> READING
 *   WRITING --written, last answer--> LINGERING --EOF/timer--> CLOSING
 *   any state --error, timeout, server close--> CLOSING
 *
 * In BODY the handler holds the request and pulls the body: each piece the
 * parser yields is handed to the body callback, and the socket is read
 * again only after http_request_resume(). An answer given in BODY is the
 * last one on the connection (the rest of the body is never parsed).
 *
 * While HANDLING and WRITING the socket is not read; bytes already read
 * beyond the current request (pipelining) wait in conn->in and are parsed
 * when the connection is READING again. LINGERING shuts the write side
 * down and discards input until the peer closes, so that unread request
 * bytes do not turn the final answer into a reset.
 *
 * The socket is a struct tls_conn: TLS 1.3 with the server's context (the
 * client's certificate role and name go into each request), plain TCP
 * without one. A failed handshake is logged and closes the connection.
 *
 * Memory of a connection is freed only in the close callback of its last
 * handle. A request with the handler when its connection closes becomes an
 * orphan: it keeps its own memory, forgets the connection, and
 * http_respond() only frees it.
 *
 * Everything here: loop thread only. */
#ifndef POOLPAIR_AGENT_HTTP_INTERNAL_H
#define POOLPAIR_AGENT_HTTP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "agent/http.h"
#include "tls/tls.h"

enum conn_state {
	CONN_ACCEPTING, /* handles initialised, not admitted yet */
	CONN_HANDSHAKE, /* admitted; TLS handshake running */
	CONN_READING,	/* reading and parsing the next request */
	CONN_BODY,	/* a streamed request is with the handler, body read
			   as the handler asks for it */
	CONN_HANDLING,	/* a complete request is with the handler */
	CONN_SENDING,	/* a streamed answer is being written in pieces */
	CONN_WRITING,	/* the answer is being written */
	CONN_LINGERING, /* last answer written, write side shut, draining */
	CONN_CLOSING,	/* handles closing; freed in the last close callback */
	CONN_STATE_COUNT
};

/* Reject codes the parser callbacks leave for http_conn.c. */
#define REJECT_SILENT (-1) /* close without an answer */

/* Why the parser paused: what the connection does next. */
enum pause_reason {
	PAUSE_MESSAGE, /* a request is complete */
	PAUSE_HEADERS, /* the headers of a streamed request are complete */
	PAUSE_BODY     /* a piece of a streamed body is ready */
};

struct http_parse; /* the parser's state, private to http_parse.c */

/* Which deadline runs while the connection reads (http.h, "Deadlines"). */
enum read_phase {
	PHASE_IDLE, /* between requests: idle_timeout_ms, no answer */
	PHASE_HEAD, /* request line and headers: until head_deadline */
	PHASE_BODY  /* a body: min_body_rate over each window */
};

struct http_conn {
	struct http_server *server;
	struct http_conn *prev, *next;
	enum conn_state state;
	struct tls_conn tls; /* the socket, TLS or plain */
	uv_timer_t timer;
	int handles_open;
	int read_active;   /* tls_conn_read_start() is in effect */
	int read_starting; /* inside tls_conn_read_start(): only buffer */
	struct http_parse *parse; /* owned; freed with the connection */
	struct http_request *req; /* being parsed, or with the handler */
	size_t header_bytes;	  /* of the message being parsed */
	int headers_done;	  /* of the message being parsed */
	int reject_status;	  /* 0, an HTTP status or REJECT_SILENT */
	enum pause_reason pause;  /* set with every pause of the parser */
	const char *piece;	  /* PAUSE_BODY: the piece, inside in[] */
	size_t piece_len;
	int delivering; /* inside the body callback */
	const char *reject_code;
	const char *reject_message;
	char *in; /* bytes read, not parsed yet: in[in_off .. in_off+in_len) */
	size_t in_off, in_len, in_cap;
	char peer[HTTP_PEER_LEN];
	char host[HTTP_PEER_LEN]; /* peer's address without the port */
	char reject_buf[128];	  /* reject_message when not static */
	uint64_t accepted_ms;	  /* uv_now() at the accept */
	int unauth;		  /* counted in server->n_unauth */
	enum read_phase phase;
	uint64_t head_deadline; /* PHASE_HEAD: uv_now() time */
	uint64_t window_end;	/* PHASE_BODY: end of the running window, 0
				   while the server does not wait for it */
	uint64_t window_left;	/* PHASE_BODY: of a window paused, ms */
	uint64_t window_bytes;	/* PHASE_BODY: read in the running window */
};

enum write_kind {
	WRITE_CONTINUE, /* "100 Continue" */
	WRITE_HEAD,	/* status line and headers of a streamed answer */
	WRITE_BODY,	/* a piece of a streamed answer (http_respond_write) */
	WRITE_ANSWER_KEEP, /* an answer; the connection stays open */
	WRITE_ANSWER_LAST  /* an answer; the connection closes after it */
};

struct conn_write {
	uv_write_t req;
	struct http_conn *conn;
	enum write_kind kind;
	struct http_request *owner; /* WRITE_BODY: NULL once it ended */
	http_write_done_fn done;    /* WRITE_BODY */
	void *arg;
	uv_buf_t bufs[3]; /* WRITE_BODY: chunk size line, data, CRLF */
	unsigned nbufs;	  /* 0: the single buffer bytes[0..len) */
	char chunk_line[24];
	size_t len;
	char bytes[];
};

/* ---- http_parse.c: the request parser ---- */

/* What http_parse_execute() stopped at. */
enum http_parse_status {
	HTTP_PARSE_OK,		    /* every byte consumed, no message ended */
	HTTP_PARSE_PAUSED,	    /* stopped at c->pause; parse on later */
	HTTP_PARSE_HEADER_OVERFLOW, /* the parser's own header limit */
	HTTP_PARSE_ERROR	    /* malformed; the parser is done */
};

/* Gives @c a request parser (owned by @c, freed with
 * http_parse_free()). Returns 0 or UV_ENOMEM (c->parse stays NULL). */
int http_parse_init(struct http_conn *c);

/* Frees a parser; NULL is ignored. */
void http_parse_free(struct http_parse *p);

/* Parses @len bytes at @data (borrowed: a streamed body piece points into
 * them, c->piece) into c->req, creating it at a message's start. Returns
 * the bytes consumed. *@st says why it stopped; with HTTP_PARSE_PAUSED the
 * parser is ready to go on and c->pause says what ended. A callback that
 * refused the request leaves c->reject_status set (*@st is then an error).
 * *@why is a static description of the error ("" when none). Precondition:
 * c->parse set. */
size_t http_parse_execute(struct http_conn *c, const char *data, size_t len,
			  enum http_parse_status *st, const char **why);

/* The reason phrase of an HTTP status ("Not Found"), "Unknown" for a code
 * the parser does not know. The string is static. */
const char *http_parse_reason_phrase(int status);

/* ---- http_respond.c: writes ---- */

/* Queues "HTTP/1.1 100 Continue" on @c (whose handshake is done). Returns
 * 0, or a negative libuv or TLS_E_* error (nothing was queued). */
int http_respond_continue(struct http_conn *c);

/* Writes an error answer that no request owns on @c (state BODY, its
 * request just taken from it): {"error":code,"message":message}, the
 * connection's last; @c moves to WRITING. Returns 0 or a negative error
 * (the caller closes @c). */
int http_respond_conn_error(struct http_conn *c, int status, const char *code,
			    const char *message);

/* ---- http_conn.c: the connection ---- */

/* The one place where a connection changes state; a transition the table
 * does not allow is a broken invariant. */
void http_conn_set_state(struct http_conn *c, enum conn_state next);

/* (Re)arms the connection's timer: it closes @c after @ms. */
void http_conn_timer_start(struct http_conn *c, uint64_t ms);

/* Refuses the request being parsed with @status (an HTTP status or
 * REJECT_SILENT), @code and @message (static strings); the first reason
 * wins. The connection answers it once the parser stops. */
void http_conn_reject(struct http_conn *c, int status, const char *code,
		      const char *message);

/* A new request on @c (peer, role, identity and data filled in), owned by
 * the caller until http_conn_request_free(); NULL when out of memory. */
struct http_request *http_conn_request_new(struct http_conn *c);

/* Frees @req and everything it owns; detaches a write in flight. */
void http_conn_request_free(struct http_request *req);

/* Stops reading the socket (nothing happens when it is not read). */
void http_conn_read_off(struct http_conn *c);

/* The last bytes of an answer of @kind (WRITE_ANSWER_KEEP or
 * WRITE_ANSWER_LAST) are written: read the next request, or linger. */
void http_conn_answer_written(struct http_conn *c, enum write_kind kind);

/* Starts the handshake of an admitted connection (state HANDSHAKE).
 * Returns 0 or an error of tls_conn_start() (the caller closes @c). */
int http_conn_start(struct http_conn *c);

/* Arms the timer of a connection that reads (READING, or BODY while the
 * server waits for the client) for the nearest of its deadlines. */
void http_conn_arm(struct http_conn *c);

/* Closes @c: its request, if the handler has it, becomes an orphan (and a
 * streamed body's callback learns of the end); @c is freed once its
 * handles are closed. A second call does nothing. */
void http_conn_close(struct http_conn *c);

/* ---- http_server.c: the server ---- */

/* Links @req, whose connection is gone, into the server's orphans. */
void http_server_orphan_link(struct http_server *s, struct http_request *req);

/* Unlinks @req from the server's orphans. */
void http_server_orphan_unlink(struct http_server *s, struct http_request *req);

/* Finishes a closing server once its listener and every connection are
 * closed: orphans forget it and the close callback fires. */
void http_server_maybe_closed(struct http_server *s);

/* @c is no longer unauthenticated (its handshake ended, or its first
 * request is complete), or it closes: it leaves the count. */
void http_server_authenticated(struct http_server *s, struct http_conn *c);

/* Logs a warning about @c's peer through the server's struct tls_quiet:
 * once a minute per message (@msg: a fixed text, whichever the address),
 * naming the first peer and how many more were left out. */
void http_server_warn(struct http_server *s, const struct http_conn *c,
		      const char *msg);

#endif /* POOLPAIR_AGENT_HTTP_INTERNAL_H */
