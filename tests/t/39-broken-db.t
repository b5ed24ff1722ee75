#!/usr/bin/perl
# One database with a broken schema (its job table dropped) must not stop
# the others: the QueueRunner backs off the broken one alone, says so in the
# log (not once per round), in the status file and in `gvctl status`, keeps
# dispatching the healthy database's jobs, and takes the broken one up
# again once its table is back.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 2);
my $ini = $t->write_ini('garivini.status_interval' => 0.5,
    'queue_runner.lease_seconds' => 60,
    'queue_runner.batch_max_size' => 200);
# The inserts of this test go to database 1 only: database 2 has no table.
my $db1 = $t->write_ini('garivini.status_interval' => 0.5, file => 'db1.ini',
    'db.2' => undef);
chmod(0600, $ini, $db1);

$t->dbh(2)->do('DROP TABLE job');
my $n = 2000;
my ($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c', $db1,
    '-f', 'work', '-n', $n, '-a', 'db1 {n}');
is($code, 0, "$n jobs inserted in database 1") or diag($err);

my $ran = $t->dir . '/ran.txt';
# The worker completes the jobs of both databases.
my $worker = $t->spawn($t->build_path('gv_consume'), '-c', $ini,
    '-f', 'work', '-o', $ran);
my $master = $t->spawn($t->build_path('garivini'), '-c', $ini);

ok($t->wait_for('database 1 to drain', 120, sub { $t->count(1) == 0 }),
    "all $n jobs of database 1 ran")
    or diag($t->count(1) . ' rows left in database 1');
ok($t->wait_for_log(qr/queue_runner\/0 .*database 2: .*job/, 10),
    'the log says database 2 is broken');

my $st;
ok($t->wait_for('the status file to name database 2', 10, sub {
	$st = $t->status_json or return 0;
	my $b = $st->{pools}{queue_runner}{broken_dbs} // [];
	grep { $_ == 2 } @$b }), 'the status file shows database 2 broken');
ok(!$st->{pools}{queue_runner}{failed}, 'the QueueRunner pool is not failed');
my ($qr) = grep { $_->{pool} eq 'queue_runner' } @{ $st->{children} };
is_deeply($qr->{broken_dbs}, [2], 'its child reports database 2');

my ($out);
($code, $out, $err) = $t->run($t->build_path('gvctl'), '-c', $ini, 'status');
is($code, 0, 'gvctl status') or diag($err);
like($out, qr/database 2/, 'gvctl status names database 2') or diag($out);

# The broken database is backed off, not tried every round: a handful of
# log lines, however many rounds ran.
open(my $fh, '<', $t->log_path) or die $t->log_path . ": $!";
my $lines = grep { /database 2: / } <$fh>;
close $fh;
cmp_ok($lines, '<=', 3, "the log is not flooded ($lines lines)");

# The table comes back: database 2's jobs run, and the trouble is cleared.
$t->dbh(2)->do($_) for GvTest::_schema_statements();
$t->insert_job(2, funcname => 'work', arg => "db2 $_") for 1 .. 20;
ok($t->wait_for('database 2 to drain', 90, sub { $t->count(2) == 0 }),
    'database 2\'s jobs ran once its table was back');
ok($t->wait_for('the status file to clear', 10, sub {
	$st = $t->status_json or return 0;
	!@{ $st->{pools}{queue_runner}{broken_dbs} // [1] } }),
    'the status file no longer shows database 2');

my %seen;
open($fh, '<', $ran) or die "$ran: $!";
while (<$fh>) { chomp; my @f = split /\t/; $seen{ $f[4] }++ }
close $fh;
is(scalar(grep { /^db1 / } keys %seen), $n, "each of the $n jobs ran");
is(scalar(grep { /^db2 / } keys %seen), 20, 'and the 20 of database 2');
is(scalar(grep { $_ > 1 } values %seen), 0, 'none twice');

is($t->stop($master, 'TERM', 30), 0, 'the master stops cleanly');
$t->stop($worker, 'TERM', 10);
done_testing();
