#!/usr/bin/perl
# Garivini on a 3-node MariaDB Galera cluster (tests/cluster/lib/GvGalera.pm),
# [db.1] naming the three nodes as an ordered host list. Under load in both
# modes, each scenario prints acknowledged, completed, lost (must be 0) and
# duplicates:
#
#   conflict   a second master writing through node 2 while the first writes
#              through node 1: their claims and completions conflict at
#              certification (reported as deadlocks at COMMIT) and are tried
#              again; 20,000 gv_inject inserts (two writers, one per node)
#              and 300 inject_jobs calls are all acknowledged
#   failover   SIGKILL of the node in use: writers move to the next host,
#              nothing is lost, every job runs, the table ends empty; the node
#              restarts and rejoins
#
# And a schedule every second on both masters, one through each node: each
# slot's job is inserted, and runs, once (certification lets one of two
# inserts of a slot commit); it goes on, on the first master, through the
# failover.
#
# The partition and the rolling restart are 11-galera-partition-rolling.t,
# on a cluster of its own: the two halves take about as long, and
# make test-cluster runs them at once.
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

# --- conflict: writers on two nodes -----------------------------------------
$c->start_master;
my ($master_b, $ini_b) = $c->start_second_master(
    'db.1.host' => $g->host_list(2, 1, 3));

my $ticks = "$dir/galera_tick.ran";
my @tickers = $t->perl_workers(1, $ticks, ['galera_tick', 0]);
my $func = 'galera_bulk';
my $ran = "$dir/$func.ran";
my @consumers = $c->start_consumers('throughput', $func, $ran, n => 3);
my $latency = $c->begin_load('conflict', 'latency', per_round => 30,
    max_rounds => 10, pause => 0.1);
my @writers = map {
	my ($ini, $w) = @$_;
	$t->spawn({ name => "insert-$w" }, $t->build_path('gv_inject'), '-c',
	    $ini, '-f', $func, '-n', 10000, '-b', 100, '-a', "$w-{n}");
} ([$c->ini, 'w1'], [$ini_b, 'w2']);
for my $pid (@writers) {
	is($t->wait_exit($pid, 300), 0, "writer $pid: every insert "
	    . 'acknowledged');
}
my $r = $c->finish_load($latency, drain => 120);
is($r->{acked}, 300, 'conflict/latency: 300 inject_jobs acknowledged');
$t->wait_for("every $func row to go", 300, sub {
	$c->rows_left($func) == 0
});
{
	my $runs = GvChaos::runs($ran);
	my ($lost, $dups) = (0, 0);
	for my $w (qw(w1 w2)) {
		for my $n (0 .. 9999) {
			my $k = $runs->{"$w-$n"} // 0;
			$lost++ if $k == 0;
			$dups++ if $k > 1;
		}
	}
	diag("conflict/throughput: acknowledged 20000, completed "
	    . (20000 - $lost) . ", lost $lost, duplicates $dups");
	is($lost, 0, 'conflict/throughput: no acknowledged job lost');
}
kill 'TERM', @consumers;
$t->wait_exit($_, 10) for @consumers;
# Counted in the status files, each master on its own first node.
my %pool_sum;
my $hosts_of = sub {
	my ($st) = @_;
	my %h;
	$h{ $_->{db_hosts}{1} }++
	    for grep { defined $_->{db_hosts}{1} } @{ $st->{children} };
	return join(' ', sort keys %h);
};
$t->wait_for('both status files written after the load', 10, sub {
	my ($a, $b) = ($t->status_json, $t->status_json("$dir/b.json"));
	return 0 unless $a && $b;
	$pool_sum{$_} = 0 for qw(db_conflicts);
	for my $st ($a, $b) {
		$pool_sum{db_conflicts} += $_->{db_conflicts} // 0
		    for values %{ $st->{pools} };
	}
	$pool_sum{a} = $hosts_of->($a);
	$pool_sum{b} = $hosts_of->($b);
	1;
});
diag("conflict: $pool_sum{db_conflicts} conflicts counted in the status "
    . 'files');
cmp_ok($pool_sum{db_conflicts}, '>', 0, 'conflicts are counted');
is($pool_sum{a}, '127.0.0.1:' . $g->port(1), 'the first master is on node 1');
is($pool_sum{b}, '127.0.0.1:' . $g->port(2), 'the second is on node 2');
{
	my %slots;
	$slots{ $_->[5] }++ for @{ $t->perl_worker_runs($ticks) };
	my @twice = grep { $slots{$_} > 1 } sort keys %slots;
	diag('schedule: ' . scalar(keys %slots) . ' slots run by two masters '
	    . 'on two nodes, ' . scalar(@twice) . ' twice');
	cmp_ok(scalar(keys %slots), '>=', 5, 'schedule: its slots ran');
	is("@twice", '', 'schedule: no slot ran twice');
}
is($t->stop($master_b, 'TERM', 30), 0, 'the second master stops');

# --- failover: SIGKILL of the node in use -----------------------------------
for my $mode (qw(throughput latency)) {
	$c->scenario('failover', $mode, sub {
		$g->kill_node(1);
		sleep 3;
		$g->start_node(1);
		$g->wait_synced(1);
	}, drain => 120, load_seconds => 2, after_seconds => 2);
}
is($g->cluster_size(2), 3, 'node 1 rejoined');
{
	my $st = $t->status_json;
	my $failovers = 0;
	$failovers += $_->{db_failovers} // 0 for values %{ $st->{pools} };
	cmp_ok($failovers, '>', 0, "failovers are counted ($failovers)");
	my ($code, $out) = $t->run($t->build_path('gvctl'), '-c', $c->ini,
	    'status');
	like($out, qr/^database 1 on 127\.0\.0\.1:\d+, \d+ child/m,
	    'gvctl status shows the host each database is on');
}

ok($t->running($c->master), 'the master lived through it all');
is($c->stop_master, 0, 'and stops gracefully');
# The databases are dropped through the cluster, so the test's servers go
# before the cluster does.
$t->teardown;
$g->teardown;
done_testing();
