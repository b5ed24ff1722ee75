#!/usr/bin/perl
# Shards at scale: three databases on three MariaDB servers of their own and
# two gearmand servers, shared by two masters (as on two hosts). One shard's
# server is stopped for 30 s in the middle of a run in each mode: jobs
# without a key go to the other shards, which keep their pace; keyed jobs
# whose home is the stopped shard are refused with the database's error; the
# stopped shard's rows wait and run once it is back, with no restart.
# Prints acknowledged, completed, lost (0) and duplicates.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../faults/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use GvGalera;

my $s = GvGalera->new(nodes => 3, galera => 0);
$s->create_database($_, 'gvshard') for 1 .. 3;
# Rows of a function on every shard, the down one counting as 0 (its rows
# are still there, so the drain waits for it to come back).
my %down;
my $rows = sub {
	my ($func) = @_;
	my $n = 0;
	for my $i (1 .. 3) {
		my $dbh = eval { $s->dbh($i) } or return -1;
		$n += $dbh->selectrow_array('SELECT COUNT(*) FROM gvshard.job '
		    . 'WHERE funcname = ?', undef, $func);
	}
	return $n;
};
$ENV{GV_TEST_MYSQL} = $s->gv_test_mysql(1);
require GvChaos;
my %shards = map {
	("db.$_.host" => '127.0.0.1', "db.$_.port" => $s->port($_),
	 "db.$_.database" => 'gvshard', "db.$_.user" => $GvGalera::USER,
	 "db.$_.password" => $GvGalera::PASSWORD)
} 1 .. 3;
my $c = GvChaos->new(dbs => 1, gearmands => 2, rows_elsewhere => $rows,
    ini => { %shards });
my $t = $c->t;
# GvTest's own database on server 1 is not a shard of this test.
$t->write_ini(%{ $c->{ini} });
$c->start_master;
my ($master_b) = $c->start_second_master;

for my $mode (qw(throughput latency)) {
	$c->scenario('shard-down', $mode, sub {
		my ($c, $l) = @_;
		my $ran = sub { scalar keys %{ GvChaos::runs($l->{ran}) } };
		my ($n0, $w0) = ($ran->(), time);
		sleep 5;
		my $pace = ($ran->() - $n0) / (time - $w0);
		my $before = $ran->();
		my $t0 = time;
		$s->stop_node(2);
		# A keyed job whose home is the stopped shard is refused.
		my $refused = 0;
		for my $k (1 .. 20) {
			my ($code, undef, $err) = $t->run($t->build_path(
			    'gv_inject'), '-c', $c->ini, '-f', 'keyed', '-u',
			    "key-$k", '-a', 'x');
			$refused++ if $code && $err =~ /database 2/;
		}
		ok($refused > 0, "$mode: keyed jobs of the stopped shard are "
		    . "refused, naming it ($refused of 20)");
		sleep(30 - (time - $t0)) if time - $t0 < 30;
		my $during = $ran->() - $before;
		my $rate = $during / (time - $t0);
		diag(sprintf('shard-down/%s: %.0f jobs/s with three shards, '
		    . '%.0f jobs/s on the other two while shard 2 was down',
		    $mode, $pace, $rate));
		cmp_ok($during, '>', 0, "$mode: the other shards kept "
		    . 'running jobs');
		$s->start_node(2);
		$s->wait_synced(2);
	}, drain => 120, load_seconds => 3, after_seconds => 2);
}
ok($t->running($c->master), 'the first master lived through it');
is($t->stop($master_b, 'TERM', 30), 0, 'the second master stops');
is($c->stop_master, 0, 'the first master stops');
$t->teardown;
$s->teardown;
done_testing();
