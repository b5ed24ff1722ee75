#!/usr/bin/perl
# A delayed job does not run before its time. A function over the watermark
# is held back in the database, not pushed into gearmand.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use GvTest;

my $t = GvTest->new(dbs => 1);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 60,
    'queue_runner.queue_watermark_depth' => 100,
    'queue_runner.batch_max_size' => 500);
my $runner = $t->spawn($t->build_path('garivini'), '--role', 'queue_runner',
    '-c', $ini);
my $lines = $t->dir . '/delayed.txt';
my $consumer = $t->spawn($t->build_path('gv_consume'), '-c', $ini,
    '-f', 'delayed', '-o', $lines);

# Delayed.
my $t0 = time;
my ($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-f', 'delayed', '-d', 4, '-a', 'later');
is($code, 0, 'delayed job inserted') or diag($err);
sleep 2;
ok(!-s $lines, 'not run two seconds in');
is($t->count(1, 'funcname = ?', 'delayed'), 1, 'still in the table');
ok($t->wait_for('the delayed job to run', 20, sub { -s $lines }), 'it ran');
# run_after has whole seconds: due in the second the delay ends, so at
# least delay - 1 s after an insert made late in a second.
cmp_ok(time - $t0, '>=', 3, 'not before its time');
ok($t->wait_for('its row to go', 10,
    sub { $t->count(1, 'funcname = ?', 'delayed') == 0 }), 'completed');

# Watermark: no worker for "held", so whatever is dispatched waits in
# gearmand; the QueueRunner must stop at the watermark.
($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-f', 'held', '-n', 1000, '-a', 'held {n}');
is($code, 0, '1000 held jobs inserted') or diag($err);
ok($t->wait_for('gearmand to reach the watermark', 20, sub {
	my $s = $t->gearman_status(1)->{held};
	$s && $s->{total} >= 100 }), 'dispatched up to the watermark');
sleep 2;    # several more rounds
my $s = $t->gearman_status(1)->{held};
cmp_ok($s->{total}, '<=', 100, "gearmand holds at most the watermark "
    . "($s->{total})");
is($t->count(1, 'funcname = ?', 'held'), 1000, 'the rest wait in the table');

my $held = $t->dir . '/held.txt';
my $worker = $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f', 'held',
    '-o', $held);
ok($t->wait_for('the held jobs to drain', 60,
    sub { $t->count(1, 'funcname = ?', 'held') == 0 }), 'all held jobs ran');
$t->stop($worker, 'TERM', 10);
my %seen;
open(my $fh, '<', $held) or die "$held: $!";
while (<$fh>) { my (undef, $jobid) = split /\t/; $seen{$jobid}++ }
is(scalar(keys %seen), 1000, 'each held job ran');
is(scalar(grep { $_ > 1 } values %seen), 0, 'none twice');

done_testing();
