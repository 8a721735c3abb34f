/* mangle_proxy: a TCP proxy that damages what it forwards, for the
 * integration tests of the replication stream.
 *
 *   mangle_proxy LISTEN_PORT TARGET_HOST:PORT SEED P_FLIP P_TRUNCATE P_DUP
 *
 * Listens on 127.0.0.1:LISTEN_PORT; every accepted connection is joined to
 * a new connection to TARGET (an IPv4 address). Each chunk read from
 * either side is, at random (xorshift64* seeded with SEED) and
 * independently:
 *   - P_FLIP:     forwarded with one bit flipped,
 *   - P_TRUNCATE: forwarded only up to a random point, then both
 *                 connections are closed (the peer sees a frame cut off),
 *   - P_DUP:      forwarded twice in a row.
 * Probabilities are per chunk, 0 to 1. Every action is logged on stderr
 * with the connection, direction and offset; the counts are printed on
 * SIGUSR1, SIGUSR2 and at exit.
 *
 * SIGUSR1 stops mangling (everything is forwarded as read; connections
 * stay open), SIGUSR2 starts it again, SIGTERM and SIGINT end the proxy.
 * Exit status: 0 after a signal, 1 on a setup error, 2 on bad arguments. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINKS 64
#define CHUNK 16384
/* room for a chunk forwarded twice */
#define BUF_LEN (2 * CHUNK)

enum side { SIDE_CLIENT = 0, SIDE_SERVER = 1 };

/* One direction of a link: bytes read from `from` waiting to be written
 * to the other side. */
struct pipe_buf {
	unsigned char data[BUF_LEN];
	size_t len;
	size_t off;
};

struct link {
	bool used;
	unsigned long long id;
	int fd[2];		  /* SIDE_CLIENT, SIDE_SERVER */
	struct pipe_buf to[2];	  /* to[s]: waiting to be written to side s */
	bool eof[2];		  /* side s closed its sending half */
	bool cut;		  /* close once what waits is out */
};

struct counts {
	unsigned long long links;
	unsigned long long refused;
	unsigned long long chunks;
	unsigned long long bytes[2]; /* written towards side s */
	unsigned long long flips;
	unsigned long long truncations;
	unsigned long long dups;
};

struct proxy {
	int listen_fd;
	struct sockaddr_in target;
	double p_flip, p_trunc, p_dup;
	uint64_t rng;
	bool mangling;
	unsigned long long next_id;
	struct link links[MAX_LINKS];
	struct counts n;
};

static volatile sig_atomic_t got_stop;
static volatile sig_atomic_t got_off;
static volatile sig_atomic_t got_on;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_off = 1;
	else if (sig == SIGUSR2)
		got_on = 1;
	else
		got_stop = 1;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "mangle_proxy %lld.%03ld: ", (long long)ts.tv_sec,
		ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t rng_next(struct proxy *p)
{
	uint64_t x = p->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	p->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* true with probability prob */
static bool chance(struct proxy *p, double prob)
{
	return (double)(rng_next(p) >> 11) / 9007199254740992.0 < prob;
}

/* uniform in [0, n), n > 0 */
static size_t below(struct proxy *p, size_t n)
{
	return (size_t)(rng_next(p) % n);
}

static void print_counts(const struct proxy *p, const char *why)
{
	say("counts (%s): links %llu refused %llu chunks %llu bytes "
	    "to_server %llu to_client %llu flips %llu truncations %llu "
	    "dups %llu mangling %s",
	    why, p->n.links, p->n.refused, p->n.chunks,
	    p->n.bytes[SIDE_SERVER], p->n.bytes[SIDE_CLIENT], p->n.flips,
	    p->n.truncations, p->n.dups, p->mangling ? "on" : "off");
}

static const char *dir_name(enum side to)
{
	return to == SIDE_SERVER ? "client->server" : "server->client";
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static void link_close(struct proxy *p, struct link *l, const char *why)
{
	say("link %llu closed: %s", l->id, why);
	for (int s = 0; s < 2; s++)
		if (l->fd[s] >= 0)
			close(l->fd[s]);
	memset(l, 0, sizeof *l);
	l->fd[0] = l->fd[1] = -1;
	(void)p;
}

static void accept_one(struct proxy *p)
{
	struct link *l = NULL;
	int cfd, sfd, one = 1;

	cfd = accept(p->listen_fd, NULL, NULL);
	if (cfd < 0)
		return;
	for (int i = 0; i < MAX_LINKS; i++)
		if (!p->links[i].used) {
			l = &p->links[i];
			break;
		}
	if (l == NULL) {
		say("too many links: refusing one");
		close(cfd);
		return;
	}
	sfd = socket(AF_INET, SOCK_STREAM, 0);
	if (sfd < 0 ||
	    connect(sfd, (struct sockaddr *)&p->target, sizeof p->target) < 0) {
		say("connect to target: %s", strerror(errno));
		p->n.refused++;
		if (sfd >= 0)
			close(sfd);
		close(cfd);
		return;
	}
	if (set_nonblock(cfd) != 0 || set_nonblock(sfd) != 0) {
		close(cfd);
		close(sfd);
		return;
	}
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	memset(l, 0, sizeof *l);
	l->used = true;
	l->id = ++p->next_id;
	l->fd[SIDE_CLIENT] = cfd;
	l->fd[SIDE_SERVER] = sfd;
	p->n.links++;
	say("link %llu open", l->id);
}

/* A chunk read from the side opposite `to`, queued for `to` (mangled or
 * not). The buffer towards `to` is empty. */
static void queue_chunk(struct proxy *p, struct link *l, enum side to,
			const unsigned char *buf, size_t len)
{
	struct pipe_buf *b = &l->to[to];
	unsigned long long at = p->n.bytes[to];

	memcpy(b->data, buf, len);
	b->len = len;
	b->off = 0;
	p->n.chunks++;
	if (!p->mangling)
		return;
	if (chance(p, p->p_flip)) {
		size_t i = below(p, len);
		unsigned bit = (unsigned)below(p, 8);

		b->data[i] ^= (unsigned char)(1u << bit);
		p->n.flips++;
		say("link %llu %s: flip bit %u of byte %zu of a %zu-byte chunk",
		    l->id, dir_name(to), bit, i, len);
	}
	if (chance(p, p->p_trunc)) {
		size_t keep = below(p, len);

		b->len = keep;
		l->cut = true;
		p->n.truncations++;
		say("link %llu %s: truncate after %zu of %zu bytes, then cut",
		    l->id, dir_name(to), keep, len);
		return;
	}
	if (chance(p, p->p_dup)) {
		memcpy(b->data + len, b->data, len);
		b->len = 2 * len;
		p->n.dups++;
		say("link %llu %s: duplicate a %zu-byte chunk (stream offset "
		    "%llu)",
		    l->id, dir_name(to), len, at);
	}
}

/* Read what side `from` sent. Returns false when the link was closed. */
static bool pump_in(struct proxy *p, struct link *l, enum side from)
{
	enum side to = from == SIDE_CLIENT ? SIDE_SERVER : SIDE_CLIENT;
	unsigned char buf[CHUNK];
	ssize_t r;

	r = read(l->fd[from], buf, sizeof buf);
	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return true;
		link_close(p, l, from == SIDE_CLIENT ? "client read error"
						     : "server read error");
		return false;
	}
	if (r == 0) {
		/* no half-closed links: what waits for the other side goes
		 * out, then both close */
		l->eof[from] = true;
		l->cut = true;
		if (l->to[to].len == 0) {
			link_close(p, l, from == SIDE_CLIENT ? "client closed"
							     : "server closed");
			return false;
		}
		return true;
	}
	queue_chunk(p, l, to, buf, (size_t)r);
	return true;
}

/* Write what waits for side `to`. Returns false when the link was closed. */
static bool pump_out(struct proxy *p, struct link *l, enum side to)
{
	struct pipe_buf *b = &l->to[to];
	ssize_t w;

	while (b->off < b->len) {
		w = write(l->fd[to], b->data + b->off, b->len - b->off);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return true;
			link_close(p, l, to == SIDE_SERVER
					     ? "server write error"
					     : "client write error");
			return false;
		}
		b->off += (size_t)w;
		p->n.bytes[to] += (unsigned long long)w;
	}
	b->len = b->off = 0;
	if (l->cut) {
		link_close(p, l, "cut after truncation");
		return false;
	}
	return true;
}

static int run(struct proxy *p)
{
	struct pollfd pfd[1 + 2 * MAX_LINKS];
	int who[1 + 2 * MAX_LINKS]; /* link index * 2 + side, -1 listener */

	while (!got_stop) {
		nfds_t n = 0;
		int rv;

		if (got_off) {
			got_off = 0;
			p->mangling = false;
			print_counts(p, "mangling off");
		}
		if (got_on) {
			got_on = 0;
			p->mangling = true;
			print_counts(p, "mangling on");
		}
		pfd[n].fd = p->listen_fd;
		pfd[n].events = POLLIN;
		who[n++] = -1;
		for (int i = 0; i < MAX_LINKS; i++) {
			struct link *l = &p->links[i];

			if (!l->used)
				continue;
			if (l->cut && l->to[0].len == 0 && l->to[1].len == 0) {
				link_close(p, l, "cut after truncation");
				continue;
			}
			for (int s = 0; s < 2; s++) {
				int other = 1 - s;
				short ev = 0;

				/* read from s only when nothing waits for
				 * the other side (back-pressure) */
				if (!l->eof[s] && l->to[other].len == 0 &&
				    !l->cut)
					ev |= POLLIN;
				if (l->to[s].len > 0)
					ev |= POLLOUT;
				pfd[n].fd = l->fd[s];
				pfd[n].events = ev;
				who[n++] = i * 2 + s;
			}
		}
		rv = poll(pfd, n, 200);
		if (rv < 0) {
			if (errno == EINTR)
				continue;
			say("poll: %s", strerror(errno));
			return -1;
		}
		for (nfds_t k = 0; k < n; k++) {
			struct link *l;
			enum side s;

			if (pfd[k].revents == 0)
				continue;
			if (who[k] < 0) {
				accept_one(p);
				continue;
			}
			l = &p->links[who[k] / 2];
			s = (enum side)(who[k] % 2);
			if (!l->used)
				continue;
			if (pfd[k].revents & POLLOUT)
				if (!pump_out(p, l, s))
					continue;
			if ((pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    !l->eof[s] && !l->cut && l->to[1 - s].len == 0)
				pump_in(p, l, s);
		}
	}
	return 0;
}

static int parse_prob(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.0 && v <= 1.0))
		return -1;
	*out = v;
	return 0;
}

static int parse_port(const char *s, uint16_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static int parse_target(const char *s, struct sockaddr_in *out)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	uint16_t port;
	size_t n;

	if (colon == NULL || (n = (size_t)(colon - s)) == 0 || n >= sizeof host)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	if (parse_port(colon + 1, &port) != 0)
		return -1;
	memset(out, 0, sizeof *out);
	out->sin_family = AF_INET;
	out->sin_port = htons(port);
	if (inet_pton(AF_INET, host, &out->sin_addr) != 1)
		return -1;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: mangle_proxy LISTEN_PORT TARGET_HOST:PORT SEED "
			"P_FLIP P_TRUNCATE P_DUP\n"
			"  probabilities per chunk in [0, 1]; TARGET an "
			"IPv4 address\n"
			"  SIGUSR1 mangling off, SIGUSR2 on, SIGTERM end\n");
	return 2;
}

int main(int argc, char **argv)
{
	static struct proxy p;
	struct sockaddr_in la;
	struct sigaction sa;
	uint16_t lport;
	unsigned long long seed;
	char *end;
	int one = 1;
	int rv;

	if (argc != 7 || parse_port(argv[1], &lport) != 0 ||
	    parse_target(argv[2], &p.target) != 0 ||
	    parse_prob(argv[4], &p.p_flip) != 0 ||
	    parse_prob(argv[5], &p.p_trunc) != 0 ||
	    parse_prob(argv[6], &p.p_dup) != 0)
		return usage();
	errno = 0;
	seed = strtoull(argv[3], &end, 10);
	if (errno != 0 || end == argv[3] || *end != '\0')
		return usage();
	/* xorshift must not start at 0 */
	p.rng = (uint64_t)seed ^ 0x9E3779B97F4A7C15ULL;
	if (p.rng == 0)
		p.rng = 1;
	p.mangling = true;
	for (int i = 0; i < MAX_LINKS; i++)
		p.links[i].fd[0] = p.links[i].fd[1] = -1;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	p.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (p.listen_fd < 0) {
		say("socket: %s", strerror(errno));
		return 1;
	}
	setsockopt(p.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&la, 0, sizeof la);
	la.sin_family = AF_INET;
	la.sin_port = htons(lport);
	la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(p.listen_fd, (struct sockaddr *)&la, sizeof la) < 0 ||
	    listen(p.listen_fd, 64) < 0 || set_nonblock(p.listen_fd) != 0) {
		say("listen on 127.0.0.1:%u: %s", (unsigned)lport,
		    strerror(errno));
		return 1;
	}
	say("listening on 127.0.0.1:%u for %s seed %llu flip %g truncate %g "
	    "dup %g",
	    (unsigned)lport, argv[2], seed, p.p_flip, p.p_trunc, p.p_dup);
	rv = run(&p);
	for (int i = 0; i < MAX_LINKS; i++)
		if (p.links[i].used)
			link_close(&p, &p.links[i], "proxy ends");
	close(p.listen_fd);
	print_counts(&p, "exit");
	return rv == 0 ? 0 : 1;
}
