/* tcp_thin: TCP_NODELAY and TCP_THIN_LINEAR_TIMEOUTS on links between
 * agents (see tcp_thin.h). */
#include "tls/tcp_thin.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int tcp_thin_set(int fd)
{
	const int one = 1;
	int rv = 0;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		rv = -errno;
	if (setsockopt(fd, IPPROTO_TCP, TCP_THIN_LINEAR_TIMEOUTS, &one,
		       sizeof one) != 0 &&
	    rv == 0)
		rv = -errno;
	return rv;
}

int tcp_thin_set_uv(uv_tcp_t *tcp)
{
	uv_os_fd_t fd;
	int rv = uv_fileno((uv_handle_t *)tcp, &fd);

	if (rv != 0)
		return rv;
	return tcp_thin_set(fd);
}
