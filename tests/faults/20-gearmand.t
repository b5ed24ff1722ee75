#!/usr/bin/perl
# SIGKILL of gearmand mid-run, then a restart: its in-memory queue is gone,
# the leases bring the jobs back. Both modes; in low-latency mode the
# Injectors and Controllers lose their connections with jobs in hand. Then
# gearmand stopped and continued (SIGSTOP, SIGCONT), in both modes.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use GvChaos;

my $c = GvChaos->new;
my $t = $c->t;
my $master = $c->start_master;

for my $mode (qw(throughput latency)) {
	$c->scenario('gearmand-kill', $mode, sub {
		for (1 .. 2) {
			is($t->stop_gearmand(1, 'KILL'), 128 + 9,
			    "$mode: gearmand killed");
			sleep 0.5;
			$t->start_gearmand(1);
			sleep 1.5;
		}
	});
}
# gearmand stopped (SIGSTOP) longer than the client timeout (3 s), then
# continued: it queues what it was sent while stopped, though no sender
# heard so. QueueRunners dispatch and Injectors inject while it sleeps; what
# they sent must neither be lost nor be sent again in the same attempt.
# Only jobs in flight at the fault may run twice: those whose short lease
# ran out while gearmand slept are claimed again: at most the watermark
# queued in gearmand (100) and a batch (100) in the hands of each of the 2
# QueueRunners.
for my $mode (qw(throughput latency)) {
	$c->scenario('gearmand-stop', $mode, sub {
		my $pid = $t->gearmand_pid(1);
		ok(kill('STOP', $pid), "$mode: gearmand stopped");
		sleep 5;
		ok(kill('CONT', $pid), "$mode: gearmand continued");
	}, max_duplicates => 300);
}
ok($t->running($master), 'the master never noticed');
is($c->stop_master, 0, 'the master stops gracefully');
done_testing();
