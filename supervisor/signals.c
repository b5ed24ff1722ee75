/*
 * signals: flags set by handlers, taken by the master's main loop.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "signals.h"

static volatile sig_atomic_t got_hup, got_term, got_quit, got_usr1,
    got_usr2, got_chld, got_alrm, term_signo;

static const int control[] = {
	SIGHUP, SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD, SIGALRM,
};

#define NCONTROL (sizeof(control) / sizeof(control[0]))

static void
on_signal(int sig)
{
	switch (sig) {
	case SIGHUP:
		got_hup = 1;
		break;
	case SIGTERM:
	case SIGINT:
		got_term = 1;
		term_signo = sig;
		break;
	case SIGQUIT:
		got_quit = 1;
		break;
	case SIGUSR1:
		got_usr1 = 1;
		break;
	case SIGUSR2:
		got_usr2 = 1;
		break;
	case SIGCHLD:
		got_chld = 1;
		break;
	case SIGALRM:
		got_alrm = 1;
		break;
	}
}

static void
control_set(sigset_t *set)
{
	size_t i;

	sigemptyset(set);
	for (i = 0; i < NCONTROL; i++)
		sigaddset(set, control[i]);
}

int
signals_master_init(void)
{
	struct sigaction sa;
	sigset_t set;
	size_t i;

	control_set(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	/* Handlers never nest: each only sets its flag. */
	sigfillset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	for (i = 0; i < NCONTROL; i++)
		if (sigaction(control[i], &sa, NULL) == -1)
			return -1;
	/* The master writes only files and a datagram socket, but a closed
	 * reader must never be able to kill it. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	return 0;
}

unsigned
signals_take(int *termsig)
{
	unsigned bits = 0;

	/* The flags are only set inside sigsuspend(), since the signals are
	 * blocked everywhere else: reading and clearing them here cannot race
	 * with a handler. */
#define TAKE(flag, bit) do { if (flag) { flag = 0; bits |= (bit); } } while (0)
	TAKE(got_hup, SIGNALS_HUP);
	TAKE(got_term, SIGNALS_TERM);
	TAKE(got_quit, SIGNALS_QUIT);
	TAKE(got_usr1, SIGNALS_USR1);
	TAKE(got_usr2, SIGNALS_USR2);
	TAKE(got_chld, SIGNALS_CHLD);
	TAKE(got_alrm, SIGNALS_ALRM);
#undef TAKE
	if (termsig && (bits & SIGNALS_TERM))
		*termsig = term_signo;
	return bits;
}

void
signals_wait(double timeout)
{
	struct itimerval it;
	sigset_t open;

	if (timeout < 0.001)
		timeout = 0.001;
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = (time_t)timeout;
	it.it_value.tv_usec = (suseconds_t)((timeout -
	    (double)it.it_value.tv_sec) * 1e6);
	if (it.it_value.tv_sec == 0 && it.it_value.tv_usec == 0)
		it.it_value.tv_usec = 1000;
	/* Armed while SIGALRM is blocked: if it fires before sigsuspend(), it
	 * waits pending and ends the sigsuspend() at once. */
	setitimer(ITIMER_REAL, &it, NULL);
	sigprocmask(SIG_SETMASK, NULL, &open);
	{
		size_t i;

		for (i = 0; i < NCONTROL; i++)
			sigdelset(&open, control[i]);
	}
	sigsuspend(&open);
}

void
signals_block_all(sigset_t *saved)
{
	sigset_t all;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, saved);
}

void
signals_restore(const sigset_t *saved)
{
	sigprocmask(SIG_SETMASK, saved, NULL);
}

void
signals_child_reset(void)
{
	struct sigaction sa;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	/* Pending signals survive a reset to SIG_DFL (only SIG_IGN discards
	 * them), so a TERM sent to a child before its role installed handlers
	 * still reaches the role. */
	for (sig = 1; sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		sigaction(sig, &sa, NULL);      /* EINVAL for RT internals */
	}
	errno = 0;
}

const char *
signals_name(int sig)
{
	static char buf[32];
	const char *abbrev;

	if ((abbrev = sigabbrev_np(sig)) != NULL)
		return abbrev;
	snprintf(buf, sizeof(buf), "signal %d", sig);
	return buf;
}
