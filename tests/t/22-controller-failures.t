#!/usr/bin/perl
# The Controller under failures: a worker that fails (WORK_FAIL) makes the
# failcount grow and run_after move by the backoff until the job is parked;
# an exception counts as a failure; a job slower than job_timeout is failed
# and runs once, not twice; a document naming a job that does not exist (or
# an attempt that is not the row's) is not run; a malformed document is
# refused and the Controller serves the next job.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep);
use Gearman::Client;
use JSON::PP;
use GvTest;

my $never = 2147483647;
my $t = GvTest->new(dbs => 1);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 30,
    'queue_runner.batch_run_sleep' => 0.2, 'controller.max_failures' => 3,
    'controller.job_timeout' => 3);
my @roles = (
	$t->spawn($t->build_path('garivini'), '--role', 'injector', '-c', $ini),
	(map {
		$t->spawn($t->build_path('garivini'), '--role', 'controller',
		    '-c', $ini, '--slot', $_)
	} 0 .. 1),
	$t->spawn($t->build_path('garivini'), '--role', 'queue_runner',
	    '-c', $ini),
);

# One Perl worker process per function, each recording every run.
my $script = $t->dir . '/worker.pl';
open(my $fh, '>', $script) or die "$script: $!";
print $fh <<'PERL';
use strict;
use warnings;
use Gearman::Worker;
use JSON::PP;
my ($servers, $func, $mode, $out) = @ARGV;
my $w = Gearman::Worker->new(job_servers => [split /,/, $servers]);
$w->register_function($func => sub {
    my $job = decode_json(${ $_[0]->argref });
    open(my $fh, '>>', $out) or die "$out: $!";
    print $fh "$job->{jobid}\t$job->{arg}\n";
    close $fh;
    return undef if $mode eq 'fail';    # WORK_FAIL
    die "no luck\n" if $mode eq 'die';  # WORK_EXCEPTION
    sleep 6 if $mode eq 'slow';
    return 'done';
});
$w->work while 1;
PERL
close $fh;
my (%out, @workers);
for (['always_fail', 'fail'], ['thrower', 'die'], ['slow', 'slow'],
    ['echo', 'ok']) {
	my ($func, $mode) = @$_;
	$out{$func} = $t->dir . "/$func.txt";
	push @workers, $t->spawn('perl', $script, $t->gearman_servers, $func,
	    $mode, $out{$func});
}

sub runs {
	my ($func) = @_;
	open(my $in, '<', $out{$func}) or return [];
	my @lines = <$in>;
	close $in;
	chomp @lines;
	return \@lines;
}

my $client = Gearman::Client->new(
    job_servers => [split /,/, $t->gearman_servers]);

my $dbh = $t->dbh(1);
sub row {
	my ($jobid) = @_;
	return $dbh->selectrow_hashref('SELECT failcount, attempt, run_after, leased, '
	    . 'CAST(run_after AS SIGNED) - UNIX_TIMESTAMP() AS due_in FROM job WHERE jobid = ?',
	    undef, $jobid);
}

# WORK_FAIL every time: backoff of 2, 4 minutes, parked after 3 failures.
my $failing = $t->inject_job(funcname => 'always_fail', arg => 'hopeless');
for my $round (1 .. 3) {
	ok($t->wait_for("failure $round", 30, sub {
		my $r = row($failing->{jobid});
		$r && $r->{failcount} == $round }), "failcount is $round");
	my $r = row($failing->{jobid});
	if ($round < 3) {
		my $want = 60 * 2**$round;
		ok($r->{due_in} > $want - 5 && $r->{due_in} <= $want,
		    "retry in $want s (got $r->{due_in})");
		# Skip ahead instead of waiting minutes: the QueueRunner sends it.
		$dbh->do('UPDATE job SET run_after = UNIX_TIMESTAMP() WHERE '
		    . 'jobid = ?', undef, $failing->{jobid});
	} else {
		is($r->{run_after}, $never, 'parked after max_failures');
	}
}
sleep 2;
is(scalar(@{ runs('always_fail') }), 3, 'it ran three times, no more');
is($t->count(1, 'jobid = ?', $failing->{jobid}), 1,
    'the parked job stays visible');

# An exception is a failure.
my $thrown = $t->inject_job(funcname => 'thrower', arg => 'throws');
ok($t->wait_for('the exception to count', 30, sub {
	my $r = row($thrown->{jobid});
	$r && $r->{failcount} == 1 }), 'an exception counts as a failure');
my $r = row($thrown->{jobid});
ok($r->{due_in} > 115 && $r->{due_in} <= 120, "retry in 2 minutes "
    . "(got $r->{due_in})");
is(scalar(@{ runs('thrower') }), 1, 'it ran once');

# Slower than job_timeout: one worker busy for 6 s, two jobs. The one the
# worker runs times out after 3 s and is failed; the one still queued in
# gearmand, which no worker took, is released without a failure, and must
# be gone with the Controller's client, not run once the worker is free.
my @slow = map { $t->inject_job(funcname => 'slow', arg => "slow $_") }
    1 .. 2;
sub given_back {
	my $x = row($_[0]{jobid});
	return $x && !$x->{leased};
}
ok($t->wait_for('both slow jobs to be given back', 30,
    sub { !grep { !given_back($_) } @slow }),
    'both slow jobs are given back after job_timeout');
sleep 6;    # the worker is free again; a job left in gearmand would run now
is(scalar(@{ runs('slow') }), 1, 'the slow function ran once, not twice');
my @rows = sort { $b->{failcount} <=> $a->{failcount} }
    map { row($_->{jobid}) } @slow;
ok($rows[0]{failcount} == 1 && $rows[0]{due_in} > 100,
    'the one that ran too long is failed, and waits for its retry');
ok($rows[1]{failcount} == 0 && $rows[1]{due_in} <= 30 && !$rows[1]{leased},
    'the one no worker took is not failed, and runs again within 30 s');
ok($t->wait_for_log(qr/no worker took it within 3 s; it runs again in 30 s/,
    10), 'and the Controller says so');

# Documents that must not run: a job that does not exist, and an attempt
# that is not the row's (a stale copy).
my $waiting = $t->inject_job(funcname => 'echo', arg => 'waiting',
    delay => 600);
my $before = row($waiting->{jobid});
my %doc = (dbid => 1, funcname => 'echo', uniqkey => undef,
    coalesce => undef, run_after => time, flag => 'controller',
    failcount => 0);
$client->dispatch_background('run_queued_job', encode_json({ %doc,
    jobid => 999_999, arg => 'no such job', attempt => 0 }));
$client->dispatch_background('run_queued_job', encode_json({ %doc,
    jobid => $waiting->{jobid}, arg => 'stale copy', attempt => 7 }));
ok($t->wait_for_log(qr/job 999999 of db 1 is stale, not run/, 30),
    'the document of a missing job is handled as stale');
ok($t->wait_for_log(qr/job $waiting->{jobid} of db 1 is stale, not run/, 30),
    'so is the copy naming another attempt');

# A malformed document is refused with a message.
my ($res, $failed, $warning) = $t->gearman_call('run_queued_job',
    'this is not a job');
ok(!$res && $failed, 'a malformed document fails');
like($warning, qr/JSON/i, 'with a message');

# The Controllers go on: the next job runs.
my $next = $t->inject_job(funcname => 'echo', arg => 'next');
ok($t->wait_for('the next job to run', 30,
    sub { grep { /\tnext$/ } @{ runs('echo') } }), 'the next job runs');
ok($t->wait_for('its row to go', 30,
    sub { $t->count(1, 'jobid = ?', $next->{jobid}) == 0 }), 'and completes');
sleep 1;
is_deeply(runs('echo'), ["$next->{jobid}\tnext"],
    'neither the missing job nor the stale copy ran');
my $after = row($waiting->{jobid});
is_deeply([@$after{qw(failcount attempt run_after)}],
    [@$before{qw(failcount attempt run_after)}],
    'the stale copy left its row alone');

is($t->stop($_, 'TERM', 10), 0, "role $_ stops gracefully") for @roles;
$t->stop($_, 'TERM', 10) for @workers;
done_testing();
