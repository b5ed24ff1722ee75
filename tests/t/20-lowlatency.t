#!/usr/bin/perl
# Low-latency mode end to end: 2,000 jobs sent to inject_jobs by Perl
# Gearman::Client, several at a time, stored by an Injector, run by two
# Controllers through a Perl Gearman::Worker. Every job runs exactly once,
# every answer carries jobid and dbid, the table ends empty. Also: a payload
# of all 256 byte values arrives byte-exact, a delayed job waits for its
# time, and a unique key injected twice is stored once.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use Gearman::Client;
use JSON::PP;
use GvTest;

my $t = GvTest->new(dbs => 2);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 60,
    'queue_runner.batch_run_sleep' => 0.2);
sub role { $t->spawn($t->build_path('garivini'), '--role', @_) }
my ($injector, $runner) = (role('injector', '-c', $ini),
    role('queue_runner', '-c', $ini));
my @roles = map { role('controller', '-c', $ini, '--slot', $_) } 0 .. 1;

# The real worker: decodes the job document as a worker written for the
# original would, and records jobid, the time and the arg (in hex: any bytes).
my $ran = $t->dir . '/ran.txt';
my $script = $t->dir . '/echo-worker.pl';
open(my $fh, '>', $script) or die "$script: $!";
print $fh <<'PERL';
use strict;
use warnings;
use Gearman::Worker;
use JSON::PP;
use Time::HiRes qw(time);
my ($servers, $out) = @ARGV;
my $w = Gearman::Worker->new(job_servers => [split /,/, $servers]);
$w->register_function(echo => sub {
    my $job = decode_json(${ $_[0]->argref });
    my $arg = $job->{arg};
    utf8::downgrade($arg);    # dies if a code point is above U+00FF
    open(my $fh, '>>', $out) or die "$out: $!";
    printf $fh "%s\t%s\t%.3f\t%s\n", $job->{dbid}, $job->{jobid}, time,
        unpack('H*', $arg);
    close $fh;
    return 'done';
});
$w->work while 1;
PERL
close $fh;
my @workers = ($t->spawn('perl', $script, $t->gearman_servers, $ran));

my $client = Gearman::Client->new(
    job_servers => [split /,/, $t->gearman_servers]);

# inject_jobs through a task set, $window calls in flight at a time.
sub inject_many {
	my ($payloads, $window) = @_;
	my (@replies, @failures);
	for (my $i = 0; $i < @$payloads; $i += $window) {
		my $ts = $client->new_task_set;
		for my $k ($i .. $i + $window - 1) {
			last if $k >= @$payloads;
			$ts->add_task('inject_jobs', $payloads->[$k], {
				on_complete => sub { $replies[$k] = decode_json(${ $_[0] }) },
				on_fail => sub { push @failures, $k },
				timeout => 30,
			});
		}
		$ts->wait(timeout => 60);
	}
	return (\@replies, \@failures);
}

sub ran_lines {
	my %by_job;
	open(my $in, '<', $ran) or return {};
	while (my $line = <$in>) {
		chomp $line;
		my ($dbid, $jobid, $at, $hex) = split /\t/, $line, 4;
		push @{ $by_job{"$dbid:$jobid"} }, { at => $at, arg => $hex };
	}
	close $in;
	return \%by_job;
}

# 2,000 jobs.
my $n = 2000;
my @payloads = map { encode_json({ funcname => 'echo', arg => "job $_" }) }
    0 .. $n - 1;
my ($replies, $failures) = inject_many(\@payloads, 20);
is(scalar(@$failures), 0, 'no inject_jobs call failed');
is(scalar(grep { defined } @$replies), $n, "$n answers");
is(scalar(grep { defined $_ && $_->{jobid} =~ /^[1-9][0-9]*$/
    && $_->{dbid} =~ /^[12]$/ && !$_->{duplicate} } @$replies), $n,
    'each answer carries jobid and dbid');
my %answered = map { ("$_->{dbid}:$_->{jobid}" => 1) } grep { defined }
    @$replies;
is(scalar(keys %answered), $n, 'the answers name distinct jobs');

ok($t->wait_for('the jobs to run and their rows to go', 120, sub {
	$t->count(1) + $t->count(2) == 0 && keys(%{ ran_lines() }) >= $n }),
    'every job ran, the table is empty');
sleep 1;    # a duplicate run, if any, would show up now
my $runs = ran_lines();
is(scalar(keys %$runs), $n, "$n distinct jobs ran");
is(scalar(grep { @{ $runs->{$_} } > 1 } keys %$runs), 0, 'none twice');
is(scalar(grep { !$answered{$_} } keys %$runs), 0,
    'each job that ran is one the Injector answered for');
my %args = map { (pack('H*', $runs->{$_}[0]{arg}) => 1) } keys %$runs;
is(scalar(grep { $args{"job $_"} } 0 .. $n - 1), $n, 'every arg arrived');
is($t->count(1) + $t->count(2), 0, 'the table ends empty');

# Every byte value, through JSON both ways.
my $bytes = join('', map { chr } 0 .. 255) x 2;
my ($r, $f) = inject_many([encode_json({ funcname => 'echo',
    arg => $bytes })], 1);
my $bin_id = "$r->[0]{dbid}:$r->[0]{jobid}";
ok($t->wait_for('the binary job to run', 30, sub { ran_lines()->{$bin_id} }),
    'the binary job ran');
is(ran_lines()->{$bin_id}[0]{arg}, unpack('H*', $bytes),
    'all 256 byte values arrive byte-exact');

# A delayed job: stored, not submitted; a QueueRunner sends it when due.
my $t0 = time;
($r, $f) = inject_many([encode_json({ funcname => 'echo', arg => 'later',
    delay => 3 })], 1);
my $later = "$r->[0]{dbid}:$r->[0]{jobid}";
is(scalar(@$f), 0, 'delayed job accepted');
sleep(1.8 - (time - $t0)) if time - $t0 < 1.8;
ok(!ran_lines()->{$later}, 'not run before its time');
is($t->count($r->[0]{dbid}, 'jobid = ?', $r->[0]{jobid}), 1,
    'it waits in the table');
ok($t->wait_for('the delayed job to run', 30,
    sub { ran_lines()->{$later} }), 'the delayed job ran');
# run_after has whole seconds: due at the earliest 2 s + a fraction later.
cmp_ok(ran_lines()->{$later}[0]{at} - $t0, '>=', 2,
    'it ran once its time had come');

# A unique key injected twice while the first is stored: one row.
my $key = "once-$$";
my $twice = encode_json({ funcname => 'echo', arg => 'unique',
    uniqkey => $key, delay => 600 });
($r, $f) = inject_many([$twice], 1);
my ($r2, $f2) = inject_many([$twice], 1);
is(scalar(@$f) + scalar(@$f2), 0, 'both calls succeed');
ok(!$r->[0]{duplicate}, 'the first is stored');
ok($r2->[0]{duplicate}, 'the second answer says duplicate');
is("$r2->[0]{dbid}:$r2->[0]{jobid}", "$r->[0]{dbid}:$r->[0]{jobid}",
    'and names the stored job');
is($t->count(1, 'uniqkey = ?', $key) + $t->count(2, 'uniqkey = ?', $key), 1,
    'one row for the key');

# Over the watermark: shim jobs for a function no worker serves. The
# Injector submits until gearmand holds the watermark's worth and leaves the
# rest in the table, where the QueueRunner holds them back too.
is($t->stop($_, 'TERM', 10), 0, "role $_ stops gracefully")
    for $injector, $runner;
$ini = $t->write_ini('queue_runner.lease_seconds' => 60,
    'queue_runner.batch_run_sleep' => 0.2,
    'queue_runner.queue_watermark_depth' => 5);
$injector = role('injector', '-c', $ini);
($r, $f) = inject_many([map { encode_json({ funcname => 'unworked',
    arg => "held $_", flag => 'shim' }) } 1 .. 12], 1);
is(scalar(@$f), 0, 'jobs over the watermark are accepted');
is($t->count(1, 'funcname = ?', 'unworked')
    + $t->count(2, 'funcname = ?', 'unworked'), 12, 'and stored');
is($t->gearman_status->{unworked}{total}, 5,
    'the Injector submitted up to the watermark');
$runner = role('queue_runner', '-c', $ini);
sleep 1.5;    # several QueueRunner rounds
is($t->gearman_status->{unworked}{total}, 5,
    'the QueueRunner holds the rest back');

is($t->stop($_, 'TERM', 10), 0, "role $_ stops gracefully")
    for @roles, $injector, $runner;
$t->stop($_, 'TERM', 10) for @workers;
done_testing();
