#!/usr/bin/perl
# Four QueueRunners share one database: SKIP LOCKED claims and leases mean no
# row is dispatched twice within its lease.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 1);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 120,
    'queue_runner.batch_max_size' => 200);
my $n = 20_000;

my ($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-f', 'shared', '-n', $n, '-a', '{n}');
is($code, 0, 'inserted') or diag($err);

my $lines = $t->dir . '/done.txt';
my @pids = map {
	$t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f', 'shared',
	    '-o', $lines)
} 1 .. 2;
push @pids, map {
	$t->spawn($t->build_path('garivini'), '--role', 'queue_runner',
	    '--slot', $_, '-c', $ini)
} 0 .. 3;

ok($t->wait_for('the table to drain', 120, sub { $t->count(1) == 0 }),
    'every row completed');
$t->stop($_, 'TERM', 10) for @pids;

my %seen;
open(my $fh, '<', $lines) or die "$lines: $!";
while (<$fh>) {
	my ($dbid, $jobid, $attempt) = split /\t/;
	$seen{$jobid}++;
	# A second claim within the lease would have bumped attempt to 2.
	fail("job $jobid dispatched with attempt $attempt") if $attempt != 1;
}
close $fh;
is(scalar(keys %seen), $n, "$n distinct jobs ran");
is(scalar(grep { $_ > 1 } values %seen), 0, 'no job was dispatched twice');

done_testing();
