/*
 * notify: systemd's readiness protocol (sd_notify) without libsystemd: one
 * datagram to the unix socket named by $NOTIFY_SOCKET. A no-op when the
 * variable is not set.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

/* msg: "READY=1", "RELOADING=1", "STOPPING=1", "STATUS=..." lines. Returns 0,
 * or -1 with errno set (the caller may ignore it: systemd is optional). */
int notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
