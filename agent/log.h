/* log: the one logging module of poolpaird and its tools.
 *
 * One line per message on stderr, written with a single write(2) so that
 * lines of one process never interleave:
 *
 *   foreground:  2026-11-26T11:33:37.123Z info  raft: elected leader
 *   journald:    <6>raft: elected leader
 *
 * Under systemd (stderr is the journal stream named by $JOURNAL_STREAM) the
 * line carries the syslog priority prefix (3 err, 4 warning, 6 info,
 * 7 debug) and no timestamp, since journald stamps it itself.
 *
 * Process-wide state: the level and the sink (fd and format) are the only
 * mutable statics of the project. They are meant to be set once at start,
 * from main() before any thread exists, and only read afterwards; they are
 * atomics so that a late change is still well defined. Everything else that
 * logs passes its module name in each call.
 *
 * Messages follow git style: lowercase, no full stop ("cannot open %s: %s").
 *
 * Note: the LOG_INFO and LOG_DEBUG macros clash with <syslog.h>; do not
 * include both in one file. */
#ifndef POOLPAIR_LOG_H
#define POOLPAIR_LOG_H

#include <stdbool.h>
#include <stddef.h>

/* Levels, from most to least severe. A message is written when its level is
 * at most the current level (default LOG_LEVEL_INFO). */
enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN = 1,
	LOG_LEVEL_INFO = 2,
	LOG_LEVEL_DEBUG = 3,
};

/* Longest line written, newline included; longer messages are cut. */
#define LOG_LINE_MAX 4096

/* Set the process-wide level. A value outside enum log_level is ignored. */
void log_set_level(int level);

/* Current process-wide level. */
int log_get_level(void);

/* Whether a message of `level` would be written now. */
bool log_enabled(int level);

/* Level for its name: "error", "warn", "info" or "debug" (exactly, lower
 * case). Returns the level, or -1 when `s` is NULL or not a level name. */
int log_level_parse(const char *s);

/* Name of a level ("error", "warn", "info", "debug"), or "?" when out of
 * range. The string is static. */
const char *log_level_name(int level);

/* Where lines go. `fd` (borrowed, must stay open while in use) receives
 * every line; default 2 (stderr). `journal`: 1 journald format, 0
 * timestamped format, -1 decide from the environment: journald format when
 * $JOURNAL_STREAM names the device and inode of `fd` (what systemd sets for
 * a service whose stderr goes to the journal). The default sink is (2, -1),
 * decided at the first message. */
void log_set_sink(int fd, int journal);

/* Write one message of `level` for `module` (borrowed, may be NULL for
 * none) if the level is enabled. `fmt` is a printf format. Newlines and
 * other control characters in the result are replaced by spaces so a
 * message stays one line. Never fails visibly: a write error is ignored.
 * Preserves errno. Thread-safe. */
void log_msg(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Convenience forms; the arguments are not evaluated when the level is
 * disabled. Usage: LOG_INFO("raft", "elected leader in term %llu", t). */
#define LOG_AT_(level, module, ...)                                            \
	do {                                                                   \
		if (log_enabled(level))                                        \
			log_msg((level), (module), __VA_ARGS__);               \
	} while (0)
#define LOG_ERROR(module, ...) LOG_AT_(LOG_LEVEL_ERROR, module, __VA_ARGS__)
#define LOG_WARN(module, ...) LOG_AT_(LOG_LEVEL_WARN, module, __VA_ARGS__)
#define LOG_INFO(module, ...) LOG_AT_(LOG_LEVEL_INFO, module, __VA_ARGS__)
#define LOG_DEBUG(module, ...) LOG_AT_(LOG_LEVEL_DEBUG, module, __VA_ARGS__)

#endif
