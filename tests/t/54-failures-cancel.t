#!/usr/bin/perl
# Why a job failed, and cancel, from outside, on real servers:
# - low latency: a Perl worker's exception (UTF-8 text), a WORK_FAIL with a
#   warning before it, a WORK_FAIL without one, and a job_timeout each leave
#   their reason, which gvctl show, list --state failing and errors print;
# - high throughput: gv_consume --fail=MESSAGE, until the job is parked;
#   gvctl list --state parked shows the last reason;
# - a job that failed once and then succeeds takes its failures with it;
# - cancel_jobs (Gearman, served by the Injector) by key and by id, one
#   object or an array, a job that does not exist, a malformed payload;
#   gvctl cancel by key and by id; a cancelled delayed job never runs.
use strict;
use warnings;
use utf8;
use Test::More;
use Time::HiRes qw(sleep);
use JSON::PP;
use GvTest;

my $t = GvTest->new(dbs => 1);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 30,
    'queue_runner.batch_run_sleep' => 0.1, 'queue_runner.processes' => 1,
    'injector.processes' => 1, 'controller.processes' => 1,
    'controller.max_failures' => 3, 'function.slowll.job_timeout' => 2,
    'function.parkme.max_failures' => 2);
my $master = $t->spawn($t->build_path('garivini'), '-c', $ini);
ok($t->wait_for_log(qr/master notice: ready/, 30), 'the master is ready');

# Perl workers: each records its runs, then fails in its own way.
my $script = $t->dir . '/worker.pl';
open(my $fh, '>', $script) or die "$script: $!";
print $fh <<'PERL';
use strict;
use warnings;
use Gearman::Worker;
use JSON::PP;
my ($servers, $out) = @ARGV;
my $w = Gearman::Worker->new(job_servers => [split /,/, $servers]);
my %mode = (
    # UTF-8 bytes, as a worker reading UTF-8 text without decoding dies:
    # Gearman::Worker cannot send a wide character (it breaks the packet).
    thrower => sub { die "disk \xe2\x98\xba full at step 2\n" },
    failer => sub { return undef },
    slowll => sub { sleep 5; return 'late' },
    flaky => sub { my $j = shift; return $j->{failcount} ? 'ok' :
                   die "first try fails\n" },
    later => sub { return 'ran' },
);
for my $f (keys %mode) {
    $w->register_function($f => sub {
        my $job = decode_json(${ $_[0]->argref });
        open(my $fh, '>>', $out) or die "$out: $!";
        print $fh "$f\t$job->{jobid}\n";
        close $fh;
        return $mode{$f}->($job);
    });
}
# gearmand 1.1.20 ends a job at its WORK_EXCEPTION, and answers the
# WORK_FAIL Gearman::Worker sends after it with JOB_NOT_FOUND, on which
# work() dies: a worker whose jobs may die must call it again (doc/failures-and-cancel.md).
while (1) {
    eval { $w->work };
    warn "work: $@" if $@;
}
PERL
close $fh;
my $runs = $t->dir . '/runs.txt';
my $worker = $t->spawn('perl', $script, $t->gearman_servers, $runs);
sub runs_of {
	my ($func) = @_;
	open(my $in, '<', $runs) or return 0;
	my $n = grep { /^\Q$func\E\t/ } <$in>;
	close $in;
	return $n;
}

sub gvctl {
	my ($code, $out, $err) = $t->run($t->build_path('gvctl'), '-c', $ini,
	    @_);
	utf8::decode($out);
	return ($code, $out, $err);
}

my $dbh = $t->dbh(1);
sub failcount {
	my ($jobid) = @_;
	my ($n) = $dbh->selectrow_array('SELECT failcount FROM job WHERE '
	    . 'jobid = ?', undef, $jobid);
	return $n // -1;
}
sub errors_of {
	my ($jobid) = @_;
	my ($n) = $dbh->selectrow_array('SELECT COUNT(*) FROM job_error WHERE '
	    . 'jobid = ?', undef, $jobid);
	return $n;
}

# ---- low latency: the Controller keeps the worker's reason ---------------
my %ll = map { $_ => $t->inject_job(funcname => $_, arg => $_) }
    qw(thrower failer slowll);
for my $f (sort keys %ll) {
	ok($t->wait_for("$f to fail", 30, sub { failcount($ll{$f}{jobid}) == 1 }),
	    "$f failed once");
}
my %want = (thrower => qr/disk ☺ full at step 2/,
    failer => qr/the worker sent WORK_FAIL without a message/,
    slowll => qr/timed out after 2 s/);
for my $f (sort keys %want) {
	my ($code, $out) = gvctl('show', "1:$ll{$f}{jobid}");
	is($code, 0, "gvctl show $f");
	like($out, qr/^failures   newest first\n  \S+Z  failcount 1  attempt \d+  /m,
	    "$f: its failure, time, failcount and attempt");
	like($out, $want{$f}, "$f: and why");
}
my ($code, $out) = gvctl('list', '-s', 'failing');
like($out, qr/LAST_FAILURE/, 'list --state failing has a LAST_FAILURE column');
like($out, qr/\Q1:$ll{thrower}{jobid}\E .* disk ☺ full at step 2/,
    'with each job\'s last reason');
($code, $out) = gvctl('--json', 'show', "1:$ll{thrower}{jobid}");
my $doc = decode_json(do { utf8::encode(my $b = $out); $b });
is($doc->{failures}[0]{message}, "disk ☺ full at step 2",
    'show --json: the message, whole, as UTF-8');
is($doc->{failures}[0]{failcount}, 1, 'and its failcount');

# ---- high throughput: gv_consume --fail=MESSAGE, until parked -------------
my $parkme = $t->insert_job(1, funcname => 'parkme', arg => 'p');
my $consumer = $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f',
    'parkme', '--fail=quota exceeded for user 7', '-o', $t->dir . '/p.txt');
ok($t->wait_for('the first failure', 30, sub { failcount($parkme) == 1 }),
    'a shim job failed through libgarivini');
$dbh->do('UPDATE job SET run_after = UNIX_TIMESTAMP() WHERE jobid = ?',
    undef, $parkme);
ok($t->wait_for('the job to park', 30, sub { failcount($parkme) == 2 }),
    'and again, which parks it');
($code, $out) = gvctl('list', '-s', 'parked');
like($out, qr/\Q1:$parkme\E .*parked.* quota exceeded for user 7/,
    'list --state parked shows why');
($code, $out) = gvctl('errors', '-f', 'parkme');
is($code, 0, 'gvctl errors -f parkme');
is(scalar(() = $out =~ /quota exceeded for user 7/g), 2,
    'both failures of the function, newest first');
like($out, qr/^TIME +JOB +FUNCTION +FAILS +ATTEMPT +MESSAGE\n\S+Z +1:$parkme +parkme +2 /m,
    'the newest first, with its failcount');
($code, $out) = gvctl('--json', 'errors', '-n', '2');
my $errs = decode_json($out)->{failures};
is(scalar(@$errs), 2, 'errors -n 2 --json: two failures');
$t->stop($consumer);

# ---- a job that fails once, then succeeds, takes its failures with it -----
my $flaky = $t->inject_job(funcname => 'flaky', arg => 'f');
ok($t->wait_for('the first failure', 30, sub { failcount($flaky->{jobid}) == 1 }),
    'flaky failed once');
is(errors_of($flaky->{jobid}), 1, 'its failure is kept');
$dbh->do('UPDATE job SET run_after = UNIX_TIMESTAMP() WHERE jobid = ?',
    undef, $flaky->{jobid});
ok($t->wait_for('the retry to complete', 30,
    sub { !$t->count(1, 'jobid = ?', $flaky->{jobid}) }), 'its retry succeeded');
ok($t->wait_for('its failures to go', 10,
    sub { errors_of($flaky->{jobid}) == 0 }), 'and its failures went with it');

# ---- cancel_jobs through Gearman ------------------------------------------
my @later = map { $t->inject_job(funcname => 'later', arg => "l$_",
    uniqkey => "k$_", delay => 600) } 1 .. 4;
my ($reply, $failed, $warning) = $t->gearman_call('cancel_jobs',
    encode_json({ funcname => 'later', uniqkey => 'k1' }));
is_deeply(decode_json($reply), { funcname => 'later', uniqkey => 'k1',
    cancelled => JSON::PP::true, dbid => 1, jobid => $later[0]{jobid} + 0 },
    'cancel by key: the job it was');
($reply) = $t->gearman_call('cancel_jobs', encode_json([
	{ dbid => 1, jobid => $later[1]{jobid} },
	{ funcname => 'later', uniqkey => 'nope' },
	{ funcname => 'later', uniqkey => 'k3' } ]));
my $answers = decode_json($reply);
ok($answers->[0]{cancelled} && $answers->[2]{cancelled},
    'cancel by id and by key in one array');
ok(!$answers->[1]{cancelled} && $answers->[1]{error} =~ /no job later\/nope/,
    'a key with no job: not cancelled, and why');
($reply, $failed, $warning) = $t->gearman_call('cancel_jobs',
    '{"funcname":"later"}');
ok(!defined $reply && $failed, 'a malformed payload is refused');
like($warning, qr/uniqkey is missing/, 'with the reason');
($reply, $failed, $warning) = $t->gearman_call('cancel_jobs', 'nonsense');
like($warning, qr/not JSON/, 'not JSON: refused with the reason');
is($t->count(1, "funcname = 'later'"), 1, 'three cancelled, one left');

# ---- gvctl cancel ----------------------------------------------------------
($code, $out) = gvctl('cancel', '-f', 'later', '-k', 'k4');
is($code, 0, 'gvctl cancel by key');
like($out, qr/^cancelled 1:$later[3]{jobid}$/m, 'says which job');
($code, undef, my $err) = gvctl('cancel', '-f', 'later', '-k', 'k4');
is($code, 1, 'again: nothing to cancel, exit 1');
like($err, qr/no job later\/k4/, 'and says so');
my $byid = $t->inject_job(funcname => 'later', arg => 'x', delay => 600);
($code, $out) = gvctl('cancel', "1:$byid->{jobid}");
is($code, 0, 'gvctl cancel by id');
($code) = gvctl('cancel', '1:999999');
is($code, 1, 'an id with no job: exit 1');
($code) = gvctl('cancel', '-f', 'later');
is($code, 64, 'a key without a function or a key: usage');
$dbh->do("UPDATE job SET run_after = UNIX_TIMESTAMP() WHERE funcname = 'later'");
sleep 2;
is(runs_of('later'), 0, 'no cancelled job ran');

# ---- reserved ---------------------------------------------------------------
($reply, $failed, $warning) = $t->gearman_call('inject_jobs',
    encode_json({ funcname => 'cancel_jobs', arg => 'x' }));
ok($failed && $warning =~ /reserved/, 'cancel_jobs is reserved as a job\'s function');

$t->stop($worker);
$t->stop($master);
done_testing();
