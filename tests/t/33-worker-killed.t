#!/usr/bin/perl
# A worker killed with SIGKILL mid-job: the job runs again, and its row is
# then deleted. A worker that fails: failcount grows and run_after moves by
# the backoff.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 1);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 3);
my $runner = $t->spawn($t->build_path('garivini'), '--role', 'queue_runner',
    '-c', $ini);

my ($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-f', 'slow', '-a', 'precious');
is($code, 0, 'job inserted') or diag($err);

my $first = $t->dir . '/first.txt';
my $victim = $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f', 'slow',
    '-s', 600, '-o', $first);
ok($t->wait_for('the first worker to take the job', 20, sub { -s $first }),
    'job in hand');
$t->stop($victim, 'KILL', 5);
is($t->count(1), 1, 'the row survives its killed worker');

my $second = $t->dir . '/second.txt';
my $rescuer = $t->spawn($t->build_path('gv_consume'), '-c', $ini,
    '-f', 'slow', '-o', $second);
ok($t->wait_for('the job to run again', 20, sub { -s $second }),
    'the job ran again');
ok($t->wait_for('the row to go', 20, sub { $t->count(1) == 0 }),
    'and its row was deleted');
open(my $fh, '<', $second) or die;
my @runs = <$fh>;
close $fh;
like($runs[0], qr/\tprecious$/, 'same payload');

# A failing worker (throughput mode: gv_failed_job).
($code) = $t->run($t->build_path('gv_inject'), '-c', $ini, '-f', 'flaky');
my $fails = $t->dir . '/fails.txt';
my $failer = $t->spawn($t->build_path('gv_consume'), '-c', $ini,
    '-f', 'flaky', '--fail', '-o', $fails);
my $dbh = $t->dbh(1);
for my $round (1 .. 3) {
	ok($t->wait_for("failure $round", 20, sub {
		($dbh->selectrow_array('SELECT failcount FROM job'))[0] == $round
	}), "failcount is $round");
	my ($due) = $dbh->selectrow_array(
	    'SELECT CAST(run_after AS SIGNED) - UNIX_TIMESTAMP() FROM job');
	my $want = 60 * 2**$round;
	ok($due > $want - 5 && $due <= $want, "retry in $want s (got $due)");
	$dbh->do('UPDATE job SET run_after = UNIX_TIMESTAMP()');   # skip ahead
}
$t->stop($failer, 'TERM', 10);

done_testing();
