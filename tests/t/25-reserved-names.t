#!/usr/bin/perl
# Function names Garivini serves itself (inject_jobs, run_queued_job,
# cancel_jobs, job_status) are refused as a job's funcname at every entry
# point, with a clear message: libgarivini (gv_inject), inject_jobs
# (gv_inject -m latency and a Perl Gearman::Client), and rows found in the
# table (parked by a QueueRunner, not dispatched). A job for run_queued_job made the Controllers call
# themselves. Also: two functions with the same unique key both run
# promptly in low-latency mode (gearmand merged them under run_queued_job,
# and the second waited a whole lease).
use strict;
use warnings;
use Test::More;
use JSON::PP;
use GvTest;

my $t = GvTest->new(dbs => 1);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 60,
    'queue_runner.batch_run_sleep' => 0.1);
my $master = $t->spawn($t->build_path('garivini'), '-c', $ini);
$t->wait_for('the master to run', 20, sub {
	my $st = $t->status_json;
	$st && $st->{master}{state} eq 'running';
});

for my $f (qw(inject_jobs run_queued_job cancel_jobs job_status)) {
	my ($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c',
	    $ini, '-f', $f, '-a', 'x');
	isnt($code, 0, "gv_inject -f $f is refused");
	like($err, qr/\Q$f\E is reserved/, '... saying the name is reserved');
	($code, my $out, $err) = $t->run($t->build_path('gv_inject'), '-c',
	    $ini, '-m', 'latency', '-f', $f, '-a', 'x');
	isnt($code, 0, "inject_jobs for $f is refused");
	like("$out$err", qr/\Q$f\E is reserved/, '... with the reason');
}
{
	my ($res, undef, $warning) = $t->gearman_call('inject_jobs',
	    encode_json({ funcname => 'run_queued_job', arg => 'x' }));
	ok(!defined $res, 'Perl Gearman::Client: refused');
	like($warning, qr/reserved/, '... with the reason as a warning');
}
is($t->count(1), 0, 'nothing was stored');

# Rows written straight into the table (any client's SQL) are parked.
my @rows = map { $t->insert_job(1, funcname => $_->[0], arg => 'x',
    flag => $_->[1]) } (['run_queued_job', 'shim'],
    ['run_queued_job', 'controller'], ['inject_jobs', 'shim'],
    ['job_status', 'shim']);
$t->wait_for('the reserved rows to be parked', 30, sub {
	$t->count(1, 'run_after = 2147483647') == 4
});
is($t->count(1, 'run_after = 2147483647 AND attempt = 0'), 4,
    'parked without being dispatched');
ok($t->wait_for_log('a function Garivini serves itself: parked', 10),
    'the log says why');

# Same unique key, two functions, both through run_queued_job.
my $ran = $t->dir . '/ran.txt';
my @consumers = map { $t->spawn($t->build_path('gv_consume'), '-c', $ini,
    '-m', 'latency', '-f', $_, '-o', $ran) } qw(resize thumb);
for my $f (qw(resize thumb)) {
	my ($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c',
	    $ini, '-m', 'latency', '-f', $f, '-u', 'u42', '-a', "$f-u42");
	is($code, 0, "inject $f with unique key u42") or diag($err);
}
ok($t->wait_for('both jobs to run, well before the 60 s lease', 15, sub {
	open(my $fh, '<', $ran) or return 0;
	my %seen = map { (split /\t/)[4] =~ s/\s+$//r => 1 } <$fh>;
	$seen{'resize-u42'} && $seen{'thumb-u42'};
}), 'two functions with one unique key both ran');
kill 'TERM', @consumers;
$t->wait_exit($_, 10) for @consumers;
is($t->stop($master, 'TERM', 30), 0, 'the master stops');
done_testing();
