#!/usr/bin/perl
# gearmand stopped (SIGSTOP) for longer than the client timeout while the
# QueueRunner dispatches, then continued: what it was sent while stopped
# it queues when it wakes, though the QueueRunner never heard so. Sending
# those jobs again in the same attempt (a new connection, or a release that
# makes them due again) would queue them twice and run them twice. Each
# job must run exactly once: nothing broke but a pause.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use GvTest;

my $t = GvTest->new(dbs => 1);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 20,
    'queue_runner.queue_watermark_depth' => 0,
    'queue_runner.batch_max_size' => 100);
my $ran = $t->dir . '/ran.txt';

sub runs {
	my %n;
	$n{ $_->{arg} }++ for @{ $t->consume_runs($ran) };
	return \%n;
}

my $worker = $t->spawn($t->build_path('gv_consume'), '-c', $ini,
    '-f', 'paused', '-o', $ran);
my $runner = $t->spawn($t->build_path('garivini'), '--role', 'queue_runner',
    '-c', $ini);
my ($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-f', 'paused', '-n', 20, '-a', 'before {n}');
is($code, 0, '20 jobs inserted') or diag($err);
ok($t->wait_for('them to run', 30, sub { keys %{ runs() } == 20 }),
    'jobs flow');

my $gearmand = $t->gearmand_pid(1);
ok(kill('STOP', $gearmand), 'gearmand stopped');
my $n = 300;
($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-f', 'paused', '-n', $n, '-a', 'during {n}');
is($code, 0, "$n jobs inserted while gearmand is stopped") or diag($err);
# A dispatch while it is stopped: the submit gets no answer.
ok($t->wait_for_log(qr/queue_runner.*gearmand .*TIMEOUT/, 30),
    'a dispatch timed out');
# Longer than a second try on a new connection would take, and than a
# release would keep the rows back.
sleep 7;
ok(kill('CONT', $gearmand), 'gearmand continued');

ok($t->wait_for('every row to go', 90, sub { $t->count(1) == 0 }),
    'every job completed');
my $r = runs();
my @during = grep { /^during / } keys %$r;
is(scalar(@during), $n, "all $n jobs dispatched during the stop ran");
my @twice = grep { $r->{$_} > 1 } keys %$r;
diag(scalar(@twice) . ' jobs ran more than once, e.g. '
    . join(', ', map { "$_ ($r->{$_} times)" } @twice[0 .. ($#twice < 2 ?
    $#twice : 2)])) if @twice;
is(scalar(@twice), 0, 'none ran twice');
ok($t->running($runner), 'the QueueRunner lived through it');

$t->stop($runner, 'TERM', 10);
$t->stop($worker, 'TERM', 10);
done_testing();
