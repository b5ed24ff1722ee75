#!/usr/bin/perl
# job_status, the Gearman function the Injectors serve, asked by a Perl
# Gearman::Client on real servers with two databases:
# - 1,000 jobs of both modes (inject_jobs run by the Controller through Perl
#   workers that answer a result; gv_inject rows completed by gv_consume
#   with gv_complete_later), of seven functions, some taking 0.1 to 0.5 s,
#   one failing its first run, some delayed, injected in waves and asked
#   about in random batches, by ids and by key, at random moments of their
#   lives: no state ever goes backwards (scheduled/due, running, retrying,
#   done; retrying may run again; done stays done), and all end done, the
#   low-latency ones with their worker's result, the others with none;
# - a result of all 256 byte values comes back byte-exact, decoded as a job
#   document's arg; one over 64 KB comes back cut and says so; an empty one
#   is "";
# - a job failed until parked shows retrying, then parked, with its reason;
#   a cancelled one, cancelled; a record of a function with keep_done = 3
#   goes after 3 s;
#   an id or key that never existed is unknown, with what was asked;
# - malformed payloads get a message, and the next call is answered.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use List::Util qw(shuffle min);
use JSON::PP;
use GvTest;

my $started = time;
my $t = GvTest->new(dbs => 2);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 60,
    'function.failer.max_failures' => 3, 'function.failer.retry_first' => 1,
    'function.ll_flaky.retry_first' => 2, 'function.brief.keep_done' => 3);
my $master = $t->spawn($t->build_path('garivini'), '-c', $ini);
ok($t->wait_for_log(qr/serving inject_jobs, cancel_jobs and job_status/,
    30), 'the Injector serves job_status');

my $bytes = join('', map { chr } 0 .. 255);
my %result = (ll_fast => 'fast!', ll_s1 => 's1', ll_s3 => 's3',
    ll_s5 => 's5', bin => $bytes, big => 'x' x 70000, brief => 'short');
my %secs = (ll_fast => 0, ll_s1 => 0.1, ll_s3 => 0.3, ll_s5 => 0.5);
my $ran = $t->dir . '/ran.txt';
$t->perl_workers(4, $ran, map { [$_, $secs{$_} // 0, $result{$_}] }
    sort keys %result);
my $consumed = $t->dir . '/consumed.txt';
sub consume {
	my ($func, @opt) = @_;
	return $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f', $func,
	    '-o', $consumed, @opt);
}
consume('tp_fast');
consume('tp_slow', '-s', 0.1) for 1 .. 2;
# ll_flaky fails its first run (WORK_FAIL), and succeeds the next.
my $flaky = $t->dir . '/flaky-worker.pl';
open(my $fh, '>', $flaky) or die "$flaky: $!";
print $fh <<'PERL';
use strict;
use warnings;
use Gearman::Worker;
use JSON::PP;
my $w = Gearman::Worker->new(job_servers => [split /,/, $ARGV[0]]);
$w->register_function(ll_flaky => sub {
    my $job = decode_json(${ $_[0]->argref });
    return $job->{failcount} ? 'flaky ok' : undef;
});
$w->work while 1;
PERL
close $fh;
$t->spawn('perl', $flaky, $t->gearman_servers);
$result{ll_flaky} = 'flaky ok';

# One call; dies when it is refused.
sub status {
	my ($payload) = @_;
	my ($reply, $failed, $warning) = $t->gearman_call('job_status',
	    encode_json($payload));
	die "job_status refused: $warning\n" unless defined $reply;
	return decode_json($reply);
}

# ---- 1. a thousand jobs, both modes, asked at random moments ---------------
# Each job: func, key, and once known, jobid and dbid; the state last seen.
my (@jobs, %rank_seen, @backwards, @wrong);
my %rank = (scheduled => 0, due => 0, running => 1, retrying => 2,
    done => 3);
my %count = (ll_fast => 332, ll_s1 => 60, ll_s3 => 40, ll_s5 => 28,
    ll_flaky => 20, tp_fast => 400, tp_slow => 120);
my $waves = 4;

sub inject_wave {
	my ($w) = @_;
	# ll_flaky last: its jobs are retrying for 2 s, which the rounds
	# that follow the wave see.
	for my $func (sort { ($a eq 'll_flaky') <=> ($b eq 'll_flaky') ||
	    $a cmp $b } keys %count) {
		my $n = $count{$func} / $waves;
		my @delay = $w % 2 ? ('-d', 2) : ();
		my $key = "$func.$w.{n}";
		if ($func =~ /^ll_/) {
			my ($code, $out, $err) = $t->gv_inject($ini, func => $func,
			    mode => 'latency', n => $n, arg => 'a{n}',
			    args => ['-u', $key, '-v', '-j', 20, @delay]);
			die "gv_inject $func: $err" if $code;
			my @answers = map { decode_json($_) } split /\n/, $out;
			die "gv_inject $func: " . scalar(@answers) . " answers\n"
			    unless @answers == $n;
			push @jobs, map { { func => $func, key => "$func.$w.$_",
			    jobid => $answers[$_]{jobid},
			    dbid => $answers[$_]{dbid} } } 0 .. $n - 1;
		} else {
			my ($code, undef, $err) = $t->gv_inject($ini, func => $func,
			    n => $n, arg => 'a{n}', args => ['-u', $key, @delay]);
			die "gv_inject $func: $err" if $code;
			push @jobs, map { { func => $func, key => "$func.$w.$_" } }
			    0 .. $n - 1;
		}
	}
}

# Ask about @batch in one call (one object alone as an object), by ids
# where known (half the time) or by key; check each answer against what was
# asked and against the state seen before.
sub ask {
	my (@batch) = @_;
	my @asked = map { defined $_->{jobid} && rand() < 0.5 ?
	    { jobid => $_->{jobid}, dbid => $_->{dbid} } :
	    { funcname => $_->{func}, uniqkey => $_->{key} } } @batch;
	my $single = @batch == 1 && rand() < 0.5;
	my $answer = status($single ? $asked[0] : \@asked);
	my @answers = $single ? ($answer) : @$answer;
	if (($single ? ref $answer ne 'HASH' : ref $answer ne 'ARRAY') ||
	    @answers != @batch) {
		push @wrong, 'the answer is not of the payload\'s shape';
		return;
	}
	for my $i (0 .. $#batch) {
		my ($job, $a, $q) = ($batch[$i], $answers[$i], $asked[$i]);
		my $state = $a->{state} // 'none';
		if (!exists $rank{$state}) {
			push @wrong, "$job->{key}: $state " . encode_json($a);
			next;
		}
		push @wrong, "$job->{key}: another job " . encode_json($a)
		    if $a->{funcname} ne $job->{func} ||
		    ($a->{uniqkey} // '') ne $job->{key} ||
		    (defined $job->{jobid} && ($a->{jobid} != $job->{jobid} ||
		    $a->{dbid} != $job->{dbid}));
		@$job{qw(jobid dbid)} = @$a{qw(jobid dbid)};
		my $before = $job->{state};
		if (defined $before && $rank{$state} < $rank{$before} &&
		    !($before eq 'retrying' && $state eq 'running')) {
			push @backwards, "$job->{key}: $before, then $state";
		}
		$job->{state} = $state;
		$job->{retried} ||= $state eq 'retrying';
		$job->{last} = $a;
		$rank_seen{$state}++;
	}
}

# A round: every job in random batches of 1 to 150, some of them twice.
sub round {
	my @all = shuffle(@jobs);
	push @all, (shuffle(@jobs))[0 .. int(@jobs / 4)];
	while (@all) {
		my $n = min(scalar(@all), 1 + int(rand(150)));
		ask(splice(@all, 0, $n));
	}
}

my $calls_before = time;
for my $w (1 .. $waves) {
	inject_wave($w);
	round() for 1 .. 2;
}
is(scalar(@jobs), 1000, '1,000 jobs injected');
ok($t->wait_for('every job to be done', 120, sub {
	round();
	!grep { $_->{state} ne 'done' } @jobs;
}), 'every job ends done');
my $seconds = time - $calls_before;
is(scalar(@backwards), 0, 'no state ever went backwards')
    or diag(join("\n", @backwards[0 .. min(9, $#backwards)]));
is(scalar(@wrong), 0, 'every answer is of its job, in a known state')
    or diag(join("\n", @wrong[0 .. min(9, $#wrong)]));
ok($rank_seen{$_}, "some were seen $_")
    for qw(scheduled running retrying done);
ok(!grep({ $_->{retried} && $_->{func} ne 'll_flaky' } @jobs),
    'only ll_flaky jobs were retrying');
diag(sprintf('states seen: %s; in %.1f s',
    join(', ', map { "$_ $rank_seen{$_}" } sort keys %rank_seen), $seconds));
my @bad = grep {
	my $a = $_->{last};
	my $want = $result{$_->{func}};
	(defined $want ? ($a->{result} // '') ne $want :
	    defined $a->{result}) || $a->{result_cut} ||
	    $a->{failcount} != ($_->{func} eq 'll_flaky' ? 1 : 0) ||
	    defined $a->{run_after} ||
	    !$a->{ended} || $a->{kept_until} != $a->{ended} + 3600 ||
	    $a->{attempt} !~ /^\d+$/ || defined $a->{error};
} @jobs;
is(scalar(@bad), 0, 'each done: its worker\'s result (low latency) or none '
    . '(gv_complete_later), ended, kept 3600 s, no run_after')
    or diag(encode_json($bad[0]{last}));
my $t0 = time;
my $all = status([map { { jobid => $_->{jobid}, dbid => $_->{dbid} } } @jobs]);
is(scalar(grep { $_->{state} eq 'done' } @$all), 1000,
    'one call about all 1,000 by ids: all done');
diag(sprintf('one call about 1,000 jobs: %.0f ms, %d bytes',
    1000 * (time - $t0), length(encode_json($all))));
my %dbs = map { $_->{dbid} => 1 } @jobs;
is_deeply([sort keys %dbs], [1, 2], 'the jobs were in both databases');

# ---- 2. results, byte-exact --------------------------------------------------
# The rule of the job document's arg: code points U+0000..U+00FF are bytes.
sub result_bytes {
	my ($s) = @_;
	return undef if !defined $s || $s =~ /[^\x00-\xff]/;
	utf8::downgrade($s);
	return $s;
}
sub done_answer {
	my ($what, $q) = @_;
	my $a;
	$t->wait_for($what, 30, sub {
		$a = status($q);
		$a->{state} eq 'done';
	});
	return $a;
}
my $bin = $t->inject_job(funcname => 'bin', arg => 'b');
my $a = done_answer('the binary job', { jobid => $bin->{jobid},
    dbid => $bin->{dbid} });
my $got = result_bytes($a->{result});
ok(defined $got && $got eq $bytes,
    'a result of all 256 byte values comes back byte-exact');
ok(!$a->{result_cut}, '... whole');
my $big = $t->inject_job(funcname => 'big', arg => 'b', uniqkey => 'big1');
$a = done_answer('the big job', { funcname => 'big', uniqkey => 'big1' });
is(length($a->{result}), 65535, 'a result of 70,000 bytes is kept up to '
    . '65,535');
ok($a->{result} eq 'x' x 65535 && $a->{result_cut} eq JSON::PP::true,
    '... and says it was cut');

# Not a Perl worker's '': gearmand 1.1.20 drops its WORK_COMPLETE and hands
# the job out again, forever (doc/libgearman.md).
consume('empty', '-m', 'latency');
my $empty = $t->inject_job(funcname => 'empty', arg => 'e');
$a = done_answer('the job with an empty result', { jobid => $empty->{jobid},
    dbid => $empty->{dbid} });
is($a->{result}, '', 'a WORK_COMPLETE without data (libgearman worker): '
    . 'the empty result');

# ---- 3. retrying, then parked; cancelled; the record's time -----------------
consume('failer', '-m', 'latency', '--fail=no luck');
my $failer = $t->inject_job(funcname => 'failer', arg => 'f');
my (@seen, $last, $retry_answer);
ok($t->wait_for('the failing job to be parked', 60, sub {
	$last = status({ jobid => $failer->{jobid}, dbid => $failer->{dbid} });
	push @seen, $last->{state} if !@seen || $seen[-1] ne $last->{state};
	$retry_answer //= $last if $last->{state} eq 'retrying';
	$last->{state} eq 'parked';
}), 'a job that fails every time is parked');
my ($retrying) = grep { $seen[$_] eq 'retrying' } 0 .. $#seen;
ok(defined $retrying, 'it was retrying first') or diag("@seen");
ok(!grep({ !/^(?:running|retrying|parked)$/ } @seen),
    'and was running, retrying or parked all along') or diag("@seen");
is($retry_answer && $retry_answer->{error}, 'no luck',
    'retrying, with the worker\'s reason');
is($last->{failcount}, 3, 'parked after max_failures = 3');
ok($last->{error} eq 'no luck' &&
    $last->{error_time} >= (($retry_answer // {})->{error_time} // 0),
    'parked, with its newest reason and when');
is($last->{run_after}, 2147483647, 'parked: run_after is never');
ok(!defined $last->{ended} && !defined $last->{kept_until},
    'a parked job lives: no end, no record');

my $later = $t->inject_job(funcname => 'later', arg => 'c', uniqkey => 'c1',
    delay => 600);
is(status({ funcname => 'later', uniqkey => 'c1' })->{state}, 'scheduled',
    'a delayed job is scheduled');
my ($reply) = $t->gearman_call('cancel_jobs',
    encode_json({ funcname => 'later', uniqkey => 'c1' }));
ok(decode_json($reply)->{cancelled}, 'cancel_jobs cancels it');
for my $q ({ funcname => 'later', uniqkey => 'c1' },
    { jobid => $later->{jobid}, dbid => $later->{dbid} }) {
	$a = status($q);
	is($a->{state}, 'cancelled', 'then it is cancelled, by '
	    . join(' and ', sort keys %$q));
}
ok($a->{ended} && $a->{kept_until} == $a->{ended} + 3600 &&
    !defined $a->{run_after} && !defined $a->{result},
    'ended, kept 3600 s, no run_after, no result');

my $brief = $t->inject_job(funcname => 'brief', arg => 'x', uniqkey => 'b1');
my $by_id = { jobid => $brief->{jobid}, dbid => $brief->{dbid} };
$a = done_answer('the brief job', $by_id);
is($a->{kept_until}, $a->{ended} + 3, 'keep_done = 3: kept 3 s');
is($a->{result}, 'short', 'with its result');
my $kept_until = $a->{kept_until};
ok($t->wait_for('its record to go', 15, sub {
	status($by_id)->{state} eq 'unknown' }), 'then its record goes');
cmp_ok(time, '>=', $kept_until, '... not before its time');
is_deeply(status($by_id), { state => 'unknown', %$by_id },
    'unknown, with what was asked (by ids)');
is_deeply(status({ funcname => 'brief', uniqkey => 'b1' }),
    { state => 'unknown', funcname => 'brief', uniqkey => 'b1' },
    '... and by key');
is_deeply(status([{ dbid => 2, jobid => 987654321 },
    { funcname => 'never', uniqkey => 'was' }]),
    [{ state => 'unknown', jobid => 987654321, dbid => 2 },
    { state => 'unknown', funcname => 'never', uniqkey => 'was' }],
    'ids and a key that never existed: unknown');

# ---- 4. malformed payloads ---------------------------------------------------
my $many = encode_json([map { { dbid => 1, jobid => $_ } } 1 .. 1001]);
my @malformed = (
	['nonsense', qr/not JSON/],
	['[]', qr/no job named/],
	['{"funcname":"f"}', qr/uniqkey is missing/],
	['{"dbid":1}', qr/jobid is missing/],
	['{"dbid":"one","jobid":1}', qr/dbid must be a positive integer/],
	['{"funcname":"f","uniqkey":5}', qr/uniqkey must be a string/],
	['{"dbid":1,"jobid":1,"state":"done"}', qr/unknown field state/],
	['[{"dbid":1,"jobid":1},{"dbid":9,"jobid":1}]',
	    qr/job 1: database 9 is not configured/],
	[$many, qr/more than 1000 jobs in one call/, '1,001 jobs'],
);
for my $m (@malformed) {
	my ($payload, $why, $name) = @$m;
	$name //= $payload;
	my ($r, $failed, $warning) = $t->gearman_call('job_status', $payload);
	ok(!defined $r && $failed, "refused: $name");
	like($warning, $why, '... with the reason');
	is(status($by_id)->{state}, 'unknown',
	    '... and the next call is answered');
}
is(status({ jobid => $bin->{jobid}, dbid => $bin->{dbid} })->{state},
    'done', 'what was there is unchanged');

my ($r, $failed, $warning) = $t->gearman_call('inject_jobs',
    encode_json({ funcname => 'job_status', arg => 'x' }));
ok($failed && $warning =~ /reserved/, 'job_status is reserved as a job\'s '
    . 'function');

is($t->stop($master, 'TERM', 30), 0, 'the master stops');
diag(sprintf('16-job-status-gearman: %.1f s', time - $started));
done_testing();
