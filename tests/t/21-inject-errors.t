#!/usr/bin/perl
# Bad inject_jobs payloads: each call fails with a message the client can
# read, nothing is stored, and the Injector goes on to serve a good job.
#
# The Injector refuses with WORK_WARNING (the message) then WORK_FAIL: Perl
# Gearman::Client sees on_warning then on_fail, the gearman CLI prints the
# message and exits non-zero, libgearman clients read it with a warning_fn.
use strict;
use warnings;
use Test::More;
use JSON::PP;
use GvTest;

my $t = GvTest->new(dbs => 1);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 60);
my @roles = (
	$t->spawn($t->build_path('garivini'), '--role', 'injector', '-c', $ini),
	$t->spawn($t->build_path('garivini'), '--role', 'controller', '-c', $ini),
);
my $ran = $t->dir . '/ran.txt';
my $script = $t->dir . '/echo-worker.pl';
open(my $fh, '>', $script) or die "$script: $!";
print $fh <<'PERL';
use strict;
use warnings;
use Gearman::Worker;
use JSON::PP;
my ($servers, $out) = @ARGV;
my $w = Gearman::Worker->new(job_servers => [split /,/, $servers]);
$w->register_function(echo => sub {
    my $job = decode_json(${ $_[0]->argref });
    open(my $fh, '>>', $out) or die "$out: $!";
    print $fh "$job->{jobid}\t$job->{arg}\n";
    close $fh;
    return 'done';
});
$w->work while 1;
PERL
close $fh;
my @workers = ($t->spawn('perl', $script, $t->gearman_servers, $ran));

my @bad = (
	[ 'not JSON', 'this is not json', qr/JSON/i ],
	[ 'not an object', '[1, 2, 3]', qr/object/i ],
	[ 'no funcname', encode_json({ arg => 'x' }), qr/funcname is missing/ ],
	[ 'a funcname of 1 MB', encode_json({ funcname => 'f' x (1 << 20),
	    arg => 'x' }), qr/funcname is longer than 200 bytes/ ],
	[ 'an empty funcname', encode_json({ funcname => '', arg => 'x' }),
	    qr/funcname is empty/ ],
	[ 'no arg', encode_json({ funcname => 'echo' }), qr/arg is missing/ ],
	[ 'an arg that is a list', encode_json({ funcname => 'echo',
	    arg => [1, 2] }), qr/arg must be a string/ ],
	[ 'an arg that is a number', '{"funcname":"echo","arg":42}',
	    qr/arg must be a string/ ],
	[ 'a unique key over 63 bytes', encode_json({ funcname => 'echo',
	    arg => 'x', uniqkey => 'k' x 64 }),
	    qr/uniqkey is longer than 63 bytes/ ],
	[ 'a negative delay', '{"funcname":"echo","arg":"x","delay":-5}',
	    qr/delay must not be negative/ ],
	[ 'a delay that is not a number', encode_json({ funcname => 'echo',
	    arg => 'x', delay => 'soon' }), qr/delay must be a number/ ],
	[ 'a fractional delay', '{"funcname":"echo","arg":"x","delay":1.5}',
	    qr/delay must be a whole number/ ],
	[ 'an unknown flag', encode_json({ funcname => 'echo', arg => 'x',
	    flag => 'urgent' }), qr/flag must be/ ],
	[ 'a misspelt field', encode_json({ funcname => 'echo', arg => 'x',
	    dealy => 5 }), qr/unknown field dealy/ ],
);
for my $case (@bad) {
	my ($what, $payload, $message) = @$case;
	my ($reply, $failed, $warning) = $t->gearman_call('inject_jobs',
	    $payload);
	ok(!defined $reply && $failed, "$what: the call fails");
	like($warning, $message, "$what: the message says why");
	is($t->count(1), 0, "$what: nothing stored");
}

# The gearman command-line client shows the message too.
my ($host, $port) = split /:/, (split /,/, $t->gearman_servers)[0];
my ($code, $out, $err) = $t->run('gearman', '-h', $host, '-p', $port,
    '-f', 'inject_jobs', '{"arg":"x"}');
isnt($code, 0, 'gearman CLI: non-zero exit');
like(($out // '') . ($err // ''), qr/funcname is missing/,
    'gearman CLI: prints the message');

open(my $log, '<', $t->log_path) or die $t->log_path . ": $!";
is(scalar(grep { /info: refused an inject_jobs payload: / } <$log>),
    @bad + 1, 'each refusal is logged');
close $log;

# Still serving.
my ($reply, $failed) = $t->gearman_call('inject_jobs',
    encode_json({ funcname => 'echo', arg => 'good' }));
ok(!$failed && $reply, 'a good job after the bad ones is accepted');
my $answer = decode_json($reply);
like($answer->{jobid}, qr/^[1-9][0-9]*$/, 'its answer carries the jobid');
is($answer->{dbid}, 1, 'and the dbid');
ok($t->wait_for('the good job to run', 30, sub { -s $ran }), 'it ran');
ok($t->wait_for('its row to go', 30, sub { $t->count(1) == 0 }),
    'and completed');
open(my $in, '<', $ran) or die;
my @lines = <$in>;
close $in;
is_deeply(\@lines, ["$answer->{jobid}\tgood\n"], 'only the good job ran');

is($t->stop($_, 'TERM', 10), 0, "role $_ stops gracefully") for @roles;
$t->stop($_, 'TERM', 10) for @workers;
done_testing();
