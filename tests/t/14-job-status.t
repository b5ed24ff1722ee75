#!/usr/bin/perl
# What became of a job, through libgarivini, against two real databases:
# tests/it/it_status.c (Check), run with the INI of this test's private
# servers. Then the QueueRunner's pruning of records past their time: in
# bounded batches, while its claims go on.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 2);
my $ini = $t->write_ini('function.nokeep.keep_done' => 0,
    'function.short.keep_done' => 5, 'function.window.unique_for' => 600,
    'function.window.keep_done' => 0, 'queue_runner.batch_run_sleep' => 0.2);
my ($code, $out, $err) = $t->run({ env => { GV_TEST_INI => $ini },
    timeout => 300 }, $t->build_path('tests/it_status'));
is($code, 0, 'it_status: every check passed');
diag($out, $err) if $code || $ENV{GV_TEST_VERBOSE};
like($out, qr/100%: Checks: \d+, Failures: 0, Errors: 0/, 'Check summary');

# 25,000 records past their time and 100 still kept, in each database.
for my $db (1, 2) {
	my $dbh = $t->dbh($db);
	$dbh->do('DELETE FROM job_outcome');
	$dbh->do(q{INSERT INTO job_outcome (jobid, funcname, outcome, ended,
	    attempt, failcount, keep_until) SELECT seq, 'old', 'done',
	    UNIX_TIMESTAMP() - 100, 1, 0, UNIX_TIMESTAMP() - 1 - seq % 50
	    FROM seq_1_to_25000});
	$dbh->do(q{INSERT INTO job_outcome (jobid, funcname, outcome, ended,
	    attempt, failcount, keep_until) SELECT 100000 + seq, 'kept',
	    'cancelled', UNIX_TIMESTAMP(), 1, 0, UNIX_TIMESTAMP() + 3600
	    FROM seq_1_to_100});
}
sub records {
	my ($db) = @_;
	return scalar $t->dbh($db)->selectrow_array(
	    q{SELECT COUNT(*) FROM job_outcome WHERE funcname IN ('old',
	    'kept')});
}

my $runner = $t->spawn($t->build_path('garivini'), '--role', 'queue_runner',
    '-c', $ini);
my $ran = $t->dir . '/ran.txt';
my $consumer = $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f',
    'during', '-o', $ran);
$t->gv_inject_ok($ini, '200 jobs injected while the records are pruned',
    func => 'during', n => 200);
ok($t->wait_for('the records past their time to go', 60, sub {
	records(1) == 100 && records(2) == 100 }),
    'the QueueRunner pruned every record past its time, in both databases');
is($t->dbh($_)->selectrow_array(q{SELECT COUNT(*) FROM job_outcome WHERE
    funcname = 'kept'}), 100, "database $_ kept the records still kept")
    for 1, 2;
ok($t->wait_for('the jobs to run', 60,
    sub { @{ $t->consume_runs($ran) } >= 200 }), 'and its jobs ran');
is($t->count(1, 'funcname = ?', 'during') + $t->count(2, 'funcname = ?',
    'during'), 0, 'completed');
$t->stop($_, 'TERM', 10) for $consumer, $runner;
done_testing();
