/* log: one line per message, one write(2) per line. */
#include "agent/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The process-wide level and sink (see log.h): set once at start, read by
 * every log_msg(). JOURNAL_UNDECIDED is resolved at the first message. */
enum { JOURNAL_UNDECIDED = -1 };
static atomic_int log_level_ = LOG_LEVEL_INFO;
static atomic_int log_fd_ = 2;
static atomic_int log_journal_ = JOURNAL_UNDECIDED;

static const char *const level_names[] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_DEBUG] = "debug",
};

/* syslog priorities: err, warning, info, debug. */
static const int level_priorities[] = {
    [LOG_LEVEL_ERROR] = 3,
    [LOG_LEVEL_WARN] = 4,
    [LOG_LEVEL_INFO] = 6,
    [LOG_LEVEL_DEBUG] = 7,
};

static bool level_valid(int level)
{
	return level >= LOG_LEVEL_ERROR && level <= LOG_LEVEL_DEBUG;
}

void log_set_level(int level)
{
	if (level_valid(level))
		atomic_store(&log_level_, level);
}

int log_get_level(void) { return atomic_load(&log_level_); }

bool log_enabled(int level)
{
	return level_valid(level) && level <= atomic_load(&log_level_);
}

int log_level_parse(const char *s)
{
	int i;

	if (s == NULL)
		return -1;
	for (i = LOG_LEVEL_ERROR; i <= LOG_LEVEL_DEBUG; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

const char *log_level_name(int level)
{
	return level_valid(level) ? level_names[level] : "?";
}

void log_set_sink(int fd, int journal)
{
	if (fd < 0)
		return;
	if (journal != 0 && journal != 1)
		journal = JOURNAL_UNDECIDED;
	atomic_store(&log_fd_, fd);
	atomic_store(&log_journal_, journal);
}

/* Whether $JOURNAL_STREAM ("DEVICE:INODE") names the file open on fd. */
static bool fd_is_journal(int fd)
{
	const char *env = getenv("JOURNAL_STREAM");
	uintmax_t dev, ino;
	struct stat st;
	char tail;

	if (env == NULL || env[0] == '\0')
		return false;
	if (sscanf(env, "%ju:%ju%c", &dev, &ino, &tail) != 2)
		return false;
	if (fstat(fd, &st) != 0)
		return false;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

static bool use_journal(int fd)
{
	int mode = atomic_load(&log_journal_);

	if (mode == JOURNAL_UNDECIDED) {
		mode = fd_is_journal(fd) ? 1 : 0;
		atomic_store(&log_journal_, mode);
	}
	return mode == 1;
}

/* Append the UTC time "YYYY-MM-DDTHH:MM:SS.mmmZ" to buf; returns its length
 * or 0 when the clock cannot be read. */
static size_t format_time(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	size_t n;
	int m;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL)
		return 0;
	n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0)
		return 0;
	m = snprintf(buf + n, size - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
	if (m < 0 || (size_t)m >= size - n)
		return 0;
	return n + (size_t)m;
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

void log_msg(int level, const char *module, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	size_t n = 0, start, i;
	int saved_errno = errno;
	int fd, m;
	va_list ap;

	if (!log_enabled(level) || fmt == NULL)
		return;
	fd = atomic_load(&log_fd_);

	if (use_journal(fd)) {
		m = snprintf(line, sizeof line, "<%d>",
			     level_priorities[level]);
		n = (size_t)m;
	} else {
		n = format_time(line, sizeof line);
		m = snprintf(line + n, sizeof line - n, "%s%-5s ",
			     n > 0 ? " " : "", level_names[level]);
		n += (size_t)m;
	}
	start = n;
	if (module != NULL && module[0] != '\0') {
		m = snprintf(line + n, sizeof line - n, "%s: ", module);
		if (m > 0)
			n += (size_t)m;
		if (n > sizeof line - 2)
			n = sizeof line - 2;
	}

	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof line - 1 - n, fmt, ap);
	va_end(ap);
	if (m > 0) {
		/* Room for the newline was kept back above. */
		if ((size_t)m >= sizeof line - 1 - n)
			n = sizeof line - 2;
		else
			n += (size_t)m;
	}
	for (i = start; i < n; i++) {
		unsigned char ch = (unsigned char)line[i];
		if (ch < 0x20 || ch == 0x7f)
			line[i] = ' ';
	}
	line[n++] = '\n';

	write_all(fd, line, n);
	errno = saved_errno;
}
