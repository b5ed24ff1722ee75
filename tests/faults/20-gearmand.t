#!/usr/bin/perl
# SIGKILL of gearmand mid-run, then a restart: its in-memory queue is gone,
# the leases bring the jobs back. Both modes; in low-latency mode the
# Injectors and Controllers lose their connections with jobs in hand.
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
ok($t->running($master), 'the master never noticed');
is($c->stop_master, 0, 'the master stops gracefully');
done_testing();
