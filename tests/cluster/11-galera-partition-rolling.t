#!/usr/bin/perl
# Garivini on a 3-node MariaDB Galera cluster (tests/cluster/lib/GvGalera.pm),
# [db.1] naming the three nodes as an ordered host list, as in 10-galera.t,
# whose other half this is (the two run at once in make test-cluster, each
# on a cluster of its own). Under load in both modes, each scenario prints
# acknowledged, completed, lost (must be 0) and duplicates:
#
#   partition  the node in use cut off from the others (gmcast.isolate): it
#              stays up and refuses every statement; the master goes on
#              through the other nodes
#   rolling    every node stopped and started again in turn
#
# With a schedule every second on the master all along, as in 10-galera.t:
# the scheduler's rollback that met a node going away in a rolling restart
# once left a QueueRunner claiming nothing (tests/it/it_client.c).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../faults/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use GvGalera;

my $g = GvGalera->new(nodes => 3);
is($g->cluster_size(1), 3, 'three nodes synced');
$ENV{GV_TEST_MYSQL} = $g->gv_test_mysql(1);
require GvChaos;
my $c = GvChaos->new(dbs => 1, ini => {
	'db.1.host' => $g->host_list(1, 2, 3),
	'db.1.user' => $GvGalera::USER, 'db.1.password' => $GvGalera::PASSWORD,
	'schedule.galtick.function' => 'galera_tick',
	'schedule.galtick.every' => 1,
	'schedule.galtick.flag' => 'controller',
});
my $t = $c->t;
my $dir = $t->dir;

$c->start_master;
my $ticks = "$dir/galera_tick.ran";
my @tickers = $t->perl_workers(1, $ticks, ['galera_tick', 0]);

# --- partition: the node in use cut off from the two others ----------------
# It stays up, out of the primary component, and refuses every statement on
# connections that stay open: jobs must go on through the other nodes while
# it is out, not only once it is back.
for my $mode (qw(throughput latency)) {
	my ($node, $before, $during);
	$c->scenario('partition', $mode, sub {
		my (undef, $l) = @_;
		# Node 1, once every child is back on it (a move back to the
		# first host is tried every 30 s); the test's clients, which
		# connect afresh, are on it too.
		$node = 1;
		my $want = '127.0.0.1:' . $g->port(1);
		$t->wait_for('every child on node 1', 60, sub {
			my $st = $t->status_json or return 0;
			!grep { defined $_->{db_hosts}{1} &&
			    $_->{db_hosts}{1} ne $want } @{ $st->{children} };
		});
		$g->isolate($node, 1);
		sleep 3;
		$before = keys %{ GvChaos::runs($l->{ran}) };
		sleep 5;
		$during = keys %{ GvChaos::runs($l->{ran}) };
		$g->isolate($node, 0);
		$g->wait_synced($node);
	}, drain => 120, load_seconds => 1, after_seconds => 2);
	diag("partition/$mode: node $node cut off for 8 s; "
	    . ($during - $before) . ' jobs ran in its last 5 s');
	cmp_ok($during, '>', $before, "partition/$mode: jobs run while the "
	    . "node in use is cut off");
}
is($g->cluster_size(1), 3, 'the cut-off node is back in the cluster');

# --- rolling restart ----------------------------------------------------------
for my $mode (qw(throughput latency)) {
	$c->scenario('rolling', $mode, sub {
		for my $i (1 .. 3) {
			$g->stop_node($i);
			$g->start_node($i);
			$g->wait_synced($i);
		}
	}, drain => 120, load_seconds => 1, after_seconds => 2);
}
is($g->cluster_size(3), 3, 'the cluster is whole after the rolling restart');
ok($t->running($c->master), 'the master lived through it all');
is($c->stop_master, 0, 'and stops gracefully');
# The databases are dropped through the cluster, so the test's servers go
# before the cluster does.
$t->teardown;
$g->teardown;
done_testing();
