#!/usr/bin/perl
# A graceful stop does not wait for a job no worker has started (a function
# with no worker): once it has waited 5 s for one, the Controller gives it
# back, uncharged, and exits. A job a worker runs is waited for.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use GvTest;

my $t = GvTest->new(dbs => 1);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 60);
my $controller = $t->spawn($t->build_path('garivini'), '--role', 'controller',
    '-c', $ini);
my $injector = $t->spawn($t->build_path('garivini'), '--role', 'injector',
    '-c', $ini);

my ($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-m', 'latency', '-f', 'nobody_works_this', '-a', 'waiting');
is($code, 0, 'job injected') or diag($err);
ok($t->wait_for('the Controller to send it', 10, sub {
	my $s = $t->gearman_status(1)->{nobody_works_this};
	$s && $s->{total} == 1 }), 'the job waits in gearmand for a worker');
my $t0 = time;
is($t->stop($controller, 'TERM', 10), 0, 'the Controller stops cleanly');
cmp_ok(time - $t0, '<', 8, 'without waiting for the queued job (at most '
    . '5 s after it was sent)');
my ($failcount, $due) = $t->dbh(1)->selectrow_array(
    'SELECT failcount, CAST(run_after AS SIGNED) - UNIX_TIMESTAMP() FROM job');
is($failcount, 0, 'the row stays, no failure counted');
cmp_ok($due, '<=', 5, 'and is due again soon');

# gearmand keeps the orphaned copy in its count until a worker comes, then
# drops it unrun (its client is gone). So when a worker appears, the job
# runs once: from the row, not from the orphan.
my $ran = $t->dir . '/ran.txt';
my @late = ($t->spawn($t->build_path('gv_consume'), '-c', $ini,
    '-f', 'nobody_works_this', '-m', 'latency', '-o', $ran),
    $t->spawn($t->build_path('garivini'), '--role', 'controller', '-c', $ini),
    $t->spawn($t->build_path('garivini'), '--role', 'queue_runner', '-c',
        $ini));
ok($t->wait_for('the job to run from its row', 20,
    sub { $t->count(1, 'funcname = ?', 'nobody_works_this') == 0 }),
    'it ran once a worker came');
sleep 1;
open(my $fh, '<', $ran) or die;
my @runs = <$fh>;
close $fh;
is(scalar(@runs), 1, 'exactly once');
$t->stop($_, 'TERM', 10) for @late;

# A job a worker has started is waited for.
$controller = $t->spawn($t->build_path('garivini'), '--role', 'controller',
    '-c', $ini);
my $out = $t->dir . '/slow.txt';
my $worker = $t->spawn($t->build_path('gv_consume'), '-c', $ini,
    '-f', 'slowish', '-m', 'latency', '-s', 3, '-o', $out);
($code) = $t->run($t->build_path('gv_inject'), '-c', $ini, '-m', 'latency',
    '-f', 'slowish', '-a', 'in hand');
ok($t->wait_for('the worker to start it', 10, sub { -s $out }), 'started');
is($t->stop($controller, 'TERM', 15), 0, 'the Controller stops');
is($t->count(1, 'funcname = ?', 'slowish'), 0,
    'after completing the job in hand');
$t->stop($worker, 'TERM', 10);
$t->stop($injector, 'TERM', 10);
done_testing();
