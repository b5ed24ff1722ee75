#!/usr/bin/perl
# A primary and a replica as one [db.1] host list, the way an operator fails
# over by hand: the replica is read-only (read_only = ON) until promoted.
#
#   - While the primary is down, nothing is written to the replica, even by
#     a user whose privileges let it write to a read-only server (as root's
#     do): rows stored there would be stranded once every writer is back on
#     the primary. Jobs are refused, saying why, and stored once it is back.
#   - A switchover (the primary made read-only, the replica promoted) while
#     a master runs: the master leaves the read-only server within seconds,
#     even when it only reads there (nothing due), and claims from the
#     promoted one; it stayed on the old primary before.
#
# Two plain MariaDB servers (tests/cluster/lib/GvGalera.pm, galera => 0); no
# replication between them is needed for what is checked.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use GvGalera;

my $s = GvGalera->new(nodes => 2, galera => 0);
for my $i (1 .. 2) {
	my $dbh = $s->create_database($i, 'gvrepl');
	# An application's user: no SUPER, so read_only stops its writes.
	$dbh->do("CREATE USER 'gvapp'\@'%' IDENTIFIED BY 'gvapp'");
	$dbh->do("GRANT ALL PRIVILEGES ON gvrepl.* TO 'gvapp'\@'%'");
}
$s->dbh(2)->do('SET GLOBAL read_only = ON');
$ENV{GV_TEST_MYSQL} = $s->gv_test_mysql(1);
my $t = GvTest->new(dbs => 1);
my $dir = $t->dir;
my %db = ('db.1.host' => $s->host_list(1, 2), 'db.1.port' => undef,
    'db.1.database' => 'gvrepl');
# The admin user of the cluster's helper has every privilege, SUPER too.
my $root_ini = $t->write_ini(%db, 'db.1.user' => $GvGalera::USER,
    'db.1.password' => $GvGalera::PASSWORD, file => 'root.ini');
my $ini = $t->write_ini(%db, 'db.1.user' => 'gvapp',
    'db.1.password' => 'gvapp', 'queue_runner.batch_run_sleep' => 0.2);

sub rows {
	my ($i, $func) = @_;
	my ($n) = $s->dbh($i)->selectrow_array('SELECT COUNT(*) FROM '
	    . 'gvrepl.job WHERE funcname = ?', undef, $func);
	return $n;
}

# --- the primary down: nothing goes to the replica ---------------------------
$s->stop_node(1);
for my $who ([$root_ini, 'a user with SUPER'], [$ini, 'a plain user']) {
	my ($path, $what) = @$who;
	my ($code, $out, $err) = $t->gv_inject($path, func => 'stranded',
	    n => 5, arg => 'stranded-{n}');
	isnt($code, 0, "primary down, $what: the jobs are refused");
	like($err, qr/read-only/, '... saying the other host is read-only')
	    or diag($out, $err);
}
is(rows(2, 'stranded'), 0, 'none was stored on the replica');
$s->start_node(1);
$s->wait_synced(1);
my ($code, $out, $err) = $t->gv_inject($root_ini, func => 'stored', n => 5,
    arg => 'stored-{n}');
is($code, 0, 'the primary back: the jobs are stored') or diag($out, $err);
is(rows(1, 'stored'), 5, '... on the primary');

# --- a switchover while a master runs ----------------------------------------
my $ran = "$dir/moved.ran";
$t->spawn({ name => 'consume' }, $t->build_path('gv_consume'), '-c', $ini,
    '-f', 'moved', '-m', 'throughput', '-o', $ran);
my $master = $t->spawn($t->build_path('garivini'), '-c', $ini);
ok($t->wait_for_log(qr/master notice: ready/, 30), 'the master is ready');
($code, $out, $err) = $t->gv_inject($ini, func => 'moved', n => 5,
    arg => 'before-{n}');
is($code, 0, 'jobs stored on the primary') or diag($out, $err);
ok($t->wait_for('them to run', 20, sub { rows(1, 'moved') == 0 }),
    'and run');
# Nothing is due on the primary now: the master only reads there, and
# must still find out that it may no longer write.
$s->dbh(1)->do("DELETE FROM gvrepl.job WHERE funcname = 'stored'");
$s->dbh(1)->do('SET GLOBAL read_only = ON');
$s->dbh(2)->do('SET GLOBAL read_only = OFF');
($code, $out, $err) = $t->gv_inject($ini, func => 'moved', n => 5,
    arg => 'after-{n}');
is($code, 0, 'after the switchover, jobs are stored') or diag($out, $err);
is(rows(2, 'moved'), 5, '... on the promoted replica');
ok($t->wait_for('the master to claim them there', 30,
    sub { rows(2, 'moved') == 0 }),
    'the master left the read-only primary and ran them')
    or diag(`tail -20 $dir/garivini.log`);
my %args;
$args{ $_->{arg} }++ for @{ $t->consume_runs($ran) };
is(scalar(keys %args), 10, 'each job ran') or diag(join(' ', sort keys %args));
is(scalar(grep { $_ > 1 } values %args), 0, 'once');
ok($t->running($master), 'the master ran on');
is($t->stop($master, 'TERM', 30), 0, 'and stops');
$t->teardown;
$s->teardown;
done_testing();
