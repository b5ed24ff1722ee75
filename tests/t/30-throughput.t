#!/usr/bin/perl
# Throughput mode end to end: 20,000 jobs inserted through libgarivini, one
# QueueRunner, two gv_consume workers completing through libgarivini. Every
# job runs, no job runs twice, the table ends empty.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 2);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 60);
my $n = 20_000;

my ($code, $out, $err) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-f', 'work', '-n', $n, '-a', 'job {n}');
is($code, 0, 'gv_inject inserted the jobs') or diag($err);
is($t->count(1) + $t->count(2), $n, "$n rows stored across both databases");
cmp_ok($t->count(1), '>', 0, 'database 1 got jobs');

my $lines = $t->dir . '/done.txt';
my @consumers = map {
	$t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f', 'work',
	    '-o', $lines)
} 1 .. 2;
my $runner = $t->spawn($t->build_path('garivini'), '--role', 'queue_runner',
    '-c', $ini);

ok($t->wait_for('the table to drain', 120,
    sub { $t->count(1) + $t->count(2) == 0 }), 'every row completed');

# Give any duplicate dispatch a moment to show up before counting.
$t->stop($runner, 'TERM', 10);
$t->stop($_, 'TERM', 10) for @consumers;

my (%seen, %args);
open(my $fh, '<', $lines) or die "$lines: $!";
while (my $line = <$fh>) {
	chomp $line;
	my ($dbid, $jobid, $attempt, $failcount, $arg) = split /\t/, $line, 5;
	$seen{"$dbid:$jobid"}++;
	$args{$arg}++;
}
close $fh;
is(scalar(keys %seen), $n, "$n distinct jobs ran");
is(scalar(grep { $_ > 1 } values %seen), 0, 'no job ran twice');
is(scalar(keys %args), $n, 'every payload arrived');
ok($args{'job 0'} && $args{'job ' . ($n - 1)}, 'first and last payloads');
is($t->count(1) + $t->count(2), 0, 'the table ends empty');

done_testing();
