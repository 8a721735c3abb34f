/* nfq_delay: holds the packets of one NFQUEUE queue for a fixed delay.
 *
 * A stand-in for a WAN link where the kernel has no netem: an iptables or
 * nft rule sends the packets to delay to queue N (with --queue-bypass, so
 * they flow undelayed while no program is bound), and this program takes
 * each one's id (copy mode META: no payload is copied), keeps (due, id) in a
 * FIFO ring, sorted because the delay is constant, and accepts it once due
 * (now + delay). Packet ids of a queue increase, so one batch verdict
 * accepts every packet due at once. On SIGINT or SIGTERM every held packet
 * is accepted before the queue is unbound.
 *
 *   nfq_delay --queue N --delay-ms D [--max-held P]
 *
 * Exit status: 0 after a signal, 1 on a netlink error, 2 bad usage. */

#include <errno.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <libnfnetlink/libnfnetlink.h>

#define DEFAULT_MAX_HELD 262144U
#define RCVBUF_BYTES (16U * 1024U * 1024U)

struct held {
	uint64_t due_ns;
	uint32_t id;
};

struct delayer {
	struct nfq_handle *h;
	struct nfq_q_handle *qh;
	uint64_t delay_ns;
	struct held *ring;
	uint32_t cap, head, n;
	uint64_t received, accepted, overflow, max_held;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Accepts every held packet up to and including the i-th oldest (count
 * packets), with one batch verdict. */
static int release(struct delayer *d, uint32_t count)
{
	uint32_t last;

	if (count == 0)
		return 0;
	last = d->ring[(d->head + count - 1) % d->cap].id;
	if (nfq_set_verdict_batch(d->qh, last, NF_ACCEPT) < 0) {
		fprintf(stderr, "nfq_delay: verdict: %s\n", strerror(errno));
		return -1;
	}
	d->head = (d->head + count) % d->cap;
	d->n -= count;
	d->accepted += count;
	return 0;
}

static int release_due(struct delayer *d, uint64_t now)
{
	uint32_t count = 0;

	while (count < d->n &&
	       d->ring[(d->head + count) % d->cap].due_ns <= now)
		count++;
	return release(d, count);
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg,
		     struct nfq_data *nfa, void *arg)
{
	struct delayer *d = arg;
	struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
	uint32_t id;

	(void)msg;
	if (ph == NULL)
		return 0;
	id = ntohl(ph->packet_id);
	d->received++;
	if (d->n == d->cap) {
		/* full: let the oldest go early rather than drop */
		d->overflow++;
		if (release(d, 1) != 0)
			return -1;
	}
	d->ring[(d->head + d->n) % d->cap] =
	    (struct held){mono_ns() + d->delay_ns, id};
	d->n++;
	if (d->n > d->max_held)
		d->max_held = d->n;
	(void)qh;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: nfq_delay --queue N --delay-ms D [--max-held P]\n");
}

static bool parse_u(const char *s, unsigned long hi, unsigned long *out)
{
	char *end;

	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno == 0 && *end == '\0' && *out <= hi;
}

int main(int argc, char **argv)
{
	struct delayer d;
	unsigned long queue = 0, delay_ms = 0, max_held = DEFAULT_MAX_HELD;
	bool have_queue = false, have_delay = false;
	char buf[65536] __attribute__((aligned));
	struct sigaction sa;
	int fd, rc = 0;

	/* every option but --help takes a value: they go in pairs */
	for (int i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--queue") == 0 &&
			   parse_u(v, 65535, &queue)) {
			have_queue = true;
		} else if (strcmp(argv[i], "--delay-ms") == 0 &&
			   parse_u(v, 10000, &delay_ms)) {
			have_delay = true;
		} else if (strcmp(argv[i], "--max-held") == 0 &&
			   parse_u(v, 16777216, &max_held) && max_held > 0) {
		} else {
			fprintf(stderr, "nfq_delay: bad argument %s\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (!have_queue || !have_delay) {
		usage(stderr);
		return 2;
	}

	memset(&d, 0, sizeof d);
	d.delay_ns = (uint64_t)delay_ms * 1000000ULL;
	d.cap = (uint32_t)max_held;
	d.ring = calloc(d.cap, sizeof *d.ring);
	if (d.ring == NULL) {
		fprintf(stderr, "nfq_delay: out of memory\n");
		return 1;
	}
	d.h = nfq_open();
	if (d.h == NULL) {
		fprintf(stderr, "nfq_delay: nfq_open: %s\n", strerror(errno));
		free(d.ring);
		return 1;
	}
	d.qh = nfq_create_queue(d.h, (uint16_t)queue, on_packet, &d);
	if (d.qh == NULL) {
		fprintf(stderr, "nfq_delay: queue %lu: %s\n", queue,
			strerror(errno));
		goto err_after_open;
	}
	if (nfq_set_mode(d.qh, NFQNL_COPY_META, 0) < 0 ||
	    nfq_set_queue_maxlen(d.qh, d.cap) < 0) {
		fprintf(stderr, "nfq_delay: queue setup: %s\n", strerror(errno));
		goto err_after_queue;
	}
	nfnl_rcvbufsiz(nfq_nfnlh(d.h), RCVBUF_BYTES);
	fd = nfq_fd(d.h);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "nfq_delay: queue %lu, delay %lu ms\n", queue, delay_ms);

	while (!stop_signal) {
		uint64_t now = mono_ns();
		int timeout = 100, n;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};

		if (release_due(&d, now) != 0)
			goto err_after_queue;
		if (d.n > 0) {
			uint64_t due = d.ring[d.head].due_ns;
			timeout = due > now ? (int)((due - now + 999999) / 1000000)
					    : 0;
		}
		n = poll(&pfd, 1, timeout);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "nfq_delay: poll: %s\n", strerror(errno));
			goto err_after_queue;
		}
		if (n <= 0)
			continue;
		for (;;) {
			ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
			if (r < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK ||
				    errno == EINTR)
					break;
				if (errno == ENOBUFS) {
					/* the kernel dropped messages: the
					 * packets are lost and TCP resends */
					fprintf(stderr,
						"nfq_delay: receive buffer "
						"overrun\n");
					continue;
				}
				fprintf(stderr, "nfq_delay: recv: %s\n",
					strerror(errno));
				goto err_after_queue;
			}
			nfq_handle_packet(d.h, buf, (int)r);
		}
	}
	goto done;

err_after_queue:
	rc = 1;
done:
	/* nothing stays held: accept what is left */
	if (d.n > 0)
		release(&d, d.n);
	nfq_destroy_queue(d.qh);
	nfq_close(d.h);
	free(d.ring);
	fprintf(stderr,
		"nfq_delay: %llu packets, %llu accepted, at most %llu held, %llu "
		"released early\n",
		(unsigned long long)d.received, (unsigned long long)d.accepted,
		(unsigned long long)d.max_held, (unsigned long long)d.overflow);
	return rc;

err_after_open:
	nfq_close(d.h);
	free(d.ring);
	return 1;
}
