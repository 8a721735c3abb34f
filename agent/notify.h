/* notify: service manager notifications (sd_notify READY, WATCHDOG,
 * STOPPING, STATUS). Without systemd every call is a no-op. */
#ifndef POOLPAIR_NOTIFY_H
#define POOLPAIR_NOTIFY_H

#include <stdint.h>

/* Watchdog interval in microseconds asked by the service manager, or 0. */
uint64_t notify_watchdog_usec(void);
void notify_ready(const char *status);
void notify_watchdog(void);
void notify_stopping(void);
void notify_status(const char *status);

#endif
