/*
 * signals: the master's signal handling, nginx-style. The control signals
 * stay blocked except inside signals_wait(), whose sigsuspend() opens them;
 * the handlers only set flags, and the main loop takes the flags and runs
 * the policy. A signal arriving anywhere else stays pending until the next
 * wait, so none is lost and none interrupts the master half-way.
 */
#ifndef SIGNALS_H
#define SIGNALS_H

#include <signal.h>

/* Bits returned by signals_take(). */
#define SIGNALS_HUP     0x01
#define SIGNALS_TERM    0x02    /* TERM or INT */
#define SIGNALS_QUIT    0x04
#define SIGNALS_USR1    0x08
#define SIGNALS_USR2    0x10
#define SIGNALS_CHLD    0x20
#define SIGNALS_ALRM    0x40

/* Install the handlers and block the control signals. */
int signals_master_init(void);
/* The flags raised since the last call, cleared. Signals coalesce: fifty
 * HUPs between two calls are one SIGNALS_HUP. *termsig gets the last TERM
 * or INT (for the log), if termsig is not NULL. */
unsigned signals_take(int *termsig);
/* Sleep until a signal comes, or timeout seconds at most (the timer is an
 * interval timer armed afresh by every call, so a deadline is never missed
 * because a signal that should have woken us was lost). */
void signals_wait(double timeout);
/* Around fork(): block everything; restore the master's mask after. */
void signals_block_all(sigset_t *saved);
void signals_restore(const sigset_t *saved);
/* In a new child, with every signal blocked: every disposition back to its
 * default. The mask stays fully blocked; the role opens it. */
void signals_child_reset(void);
/* "TERM", "KILL", ... (without "SIG"); "signal N" form if unknown. */
const char *signals_name(int sig);

#endif
