#!/usr/bin/perl
# With nothing broken, nothing runs twice: one Controller, a short lease, a
# fast job and then a slow one. The fast job's completion must reach the
# database within its short window while the Controller waits for the slow
# job; held until the slow job ended, it outlived the fast job's lease, a
# QueueRunner sent the job again, and it ran twice.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 1);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 2,
    'queue_runner.batch_run_sleep' => 0.1);
my @procs = map { $t->spawn($t->build_path('garivini'), '--role', $_, '-c',
    $ini) } qw(controller injector queue_runner);
my %out = map { $_ => $t->dir . "/$_.txt" } qw(fast slow);
# The fast job takes a little while, so that the slow one is already
# waiting in gearmand when it ends: the Controller takes it at once.
push @procs, $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f',
    'fast', '-m', 'latency', '-s', 0.3, '-o', $out{fast});
push @procs, $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f',
    'slow', '-m', 'latency', '-s', 6, '-o', $out{slow});
ok($t->wait_for('both workers', 20, sub {
	my $st = $t->gearman_status;
	!grep { !$st->{$_} || !$st->{$_}{workers} } qw(fast slow) }),
    'both workers registered');

for my $round (1 .. 2) {
	for my $f (qw(fast slow)) {
		my ($code, undef, $err) = $t->run($t->build_path('gv_inject'),
		    '-c', $ini, '-m', 'latency', '-f', $f, '-a', "$f $round");
		is($code, 0, "round $round: $f injected") or diag($err);
	}
	ok($t->wait_for("round $round: both jobs to finish", 30,
	    sub { $t->count(1) == 0 }), "round $round: both ran");
}
# Longer than a lease and a QueueRunner round: a copy sent again would
# have run by now.
sleep 4;
for my $f (qw(fast slow)) {
	open(my $fh, '<', $out{$f}) or die "$out{$f}: $!";
	my @runs = <$fh>;
	is(scalar(@runs), 2, "$f: each of its two jobs ran once")
	    or diag(@runs);
}
$t->stop($_, 'TERM', 10) for @procs;
done_testing();
