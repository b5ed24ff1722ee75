/*
 * proctitle: what `ps` shows for this process: "garivini: master -c INI",
 * "garivini: controller/3", "garivini: controller/3 (draining)".
 */
#ifndef PROCTITLE_H
#define PROCTITLE_H

/* First thing in main(), before anything keeps a pointer into argv or the
 * environment: moves their strings to the heap (argv[i] and environ are
 * updated) so that their memory can hold the title. -1: out of memory,
 * and the title stays the command line. */
int proctitle_init(int argc, char **argv);

/* "garivini: " and the formatted text, cut to the room there is. Not for
 * a signal handler. */
void proctitle_set(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

#endif
