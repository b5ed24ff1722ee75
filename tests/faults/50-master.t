#!/usr/bin/perl
# The master itself while jobs flow, both modes: HUP storms that resize the
# pools and change the roles' settings (children replaced gracefully, slots
# added and retired), then a graceful stop and a new start in the middle of
# a run.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use GvChaos;

my $c = GvChaos->new;
my $t = $c->t;
my $master = $c->start_master;

for my $mode (qw(throughput latency)) {
	my $hups = 0;
	$c->scenario('hup-resize', $mode, sub {
		my $end = time + 6;
		while (time < $end) {
			$c->rewrite_ini(
			    'queue_runner.processes' => 1 + int(rand(3)),
			    'injector.processes' => 1 + int(rand(3)),
			    'controller.processes' => 1 + int(rand(4)),
			    # Settings the children read: the pool's children
			    # are replaced.
			    'queue_runner.batch_max_size' => 50 + int(rand(100)),
			    'controller.max_failures' => 5 + int(rand(5)),
			    ($hups % 7 == 6 ? ('queue_runner.lease_seconds' =>
			    3 + int(rand(3))) : ()));
			$hups += kill 'HUP', $c->master;
			sleep 0.05 + rand(0.4);
		}
		$c->rewrite_ini;
		$hups += kill 'HUP', $c->master;
		$c->wait_pools_full(30);
	});
	my $st = $t->status_json;
	cmp_ok($st->{master}{generation}, '>', 10, "hup-resize/$mode: "
	    . "$hups HUPs, generation $st->{master}{generation}");
	is($st->{master}{last_reload}{result}, 'ok', "hup-resize/$mode: "
	    . 'the last reload applied');
}

for my $mode (qw(throughput latency)) {
	$c->scenario('master-restart', $mode, sub {
		is($c->stop_master, 0, "master-restart/$mode: the master "
		    . 'stopped gracefully');
		sleep 1;
		$c->start_master;
	});
}
is($c->stop_master, 0, 'the master stops gracefully');
done_testing();
