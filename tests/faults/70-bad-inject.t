#!/usr/bin/perl
# inject_jobs fed garbage, through the real master: random bytes, invalid
# UTF-8, deeply nested JSON, payloads from 0 bytes to beyond the column's
# 16 MB, function names full of quotes and SQL, unique keys over 63 bytes,
# delays that are negative, huge or not numbers. Each bad call fails with a
# message the client can read, nothing is stored for it, the good jobs sent
# between the bad ones all run, and no Injector dies.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use GvChaos;

my $c = GvChaos->new(dbs => 1, ini => { 'queue_runner.lease_seconds' => 30,
    'injector.processes' => 2, 'controller.processes' => 2 });
my $t = $c->t;
$c->start_master;
my @injectors = sort $c->pool_pids('injector');

# One inject_jobs call: (reply or undef, failed, warning message). A
# minute, for the payloads of 16 and 40 MB.
sub inject { return $t->gearman_call('inject_jobs', $_[0], timeout => 60) }

# Workers: one gv_consume per function a good job may name.
my %worker;
sub worker_for {
	my ($func) = @_;
	return $worker{$func} if $worker{$func};
	my $out = $t->dir . '/ran.' . scalar(keys %worker);
	utf8::encode(my $bytes = $func);
	$t->spawn({ name => 'consume' }, $t->build_path('gv_consume'), '-c',
	    $c->ini, '-m', 'latency', '-f', $bytes, '-o', $out);
	return $worker{$func} = $out;
}
sub ran_args {
	my ($func) = @_;
	open(my $fh, '<', worker_for($func)) or return ();
	my @a = map { chomp; (split /\t/, $_, 5)[4] } <$fh>;
	close $fh;
	return @a;
}

my $goods = 0;
sub good {
	my ($why) = @_;
	my ($reply) = inject(encode_json({ funcname => 'good',
	    arg => 'good ' . ++$goods }));
	ok($reply && decode_json($reply)->{jobid}, "a good job after $why is "
	    . 'accepted');
}
# Bad payloads name the function "bad" when they name one: no row of it
# may ever appear (good jobs come and go meanwhile).
sub bad {
	my ($what, $payload, $message) = @_;
	my ($reply, undef, $warning) = inject($payload);
	ok(!defined $reply, "$what: refused");
	like($warning, $message, "$what: the message says why");
	is($t->count(1, 'funcname = ?', 'bad'), 0, "$what: nothing stored");
}
worker_for('good');

# Random bytes: 200 payloads of 0 to 3000 bytes.
my $seed = $ENV{GV_FAULTS_SEED} // time;
srand($seed);
note("random payloads: GV_FAULTS_SEED=$seed");
my ($refused, $with_reason) = (0, 0);
for (1 .. 200) {
	my $p = join('', map { chr(int(rand(256))) } 1 .. int(rand(3000)));
	my ($reply, undef, $warning) = inject($p);
	$refused++ unless defined $reply;
	$with_reason++ if $warning =~ /\S/;
}
is($refused, 200, '200 random payloads refused');
is($with_reason, 200, 'each with a reason');
is($t->count(1), 0, 'none stored');
good('random bytes');

# Invalid UTF-8, in the name, in the arg, as the whole document.
for my $case (["\xff", 'a 0xFF byte'], ["\xc0\xaf", 'an overlong /'],
    ["\xed\xa0\x80", 'a surrogate'], ["\xe2\x82", 'a cut sequence'],
    ["\xf4\x90\x80\x80", 'a code point above U+10FFFF']) {
	my ($bytes, $what) = @$case;
	bad("$what in funcname", qq({"funcname":"f$bytes","arg":"x"}),
	    qr/not JSON/);
	bad("$what in arg", qq({"funcname":"bad","arg":"x$bytes"}),
	    qr/not JSON/);
}
bad('UTF-16', "\xff\xfe{\0}\0", qr/not JSON/);
good('invalid UTF-8');

# Deeply nested JSON: jansson stops at its depth limit.
bad('100,000 nested arrays', '[' x 100000, qr/not JSON|depth/);
bad('100,000 nested objects', '{"a":' x 100000, qr/not JSON|depth/);
bad('a nested arg', '{"funcname":"bad","arg":' . ('[' x 5000) .
    (']' x 5000) . '}', qr/not JSON|depth|arg must be a string/);
bad('an arg nested 1,000 deep', '{"funcname":"bad","arg":' . ('[' x 1000)
    . (']' x 1000) . '}', qr/arg must be a string/);
good('deep nesting');

# Sizes: empty, whitespace, the largest arg the column holds, one byte
# more, and far beyond.
bad('an empty payload', '', qr/not JSON/);
bad('whitespace', " \n\t ", qr/not JSON/);
bad('a JSON string', '"funcname"', qr/not JSON|not an object/);
bad('null', 'null', qr/not JSON|not an object/);
bad('a list', '[{"funcname":"bad","arg":"x"}]', qr/not an object/);
my $max = 16777215;
bad('an arg of 16 MB + 1', encode_json({ funcname => 'bad',
    arg => 'y' x ($max + 1) }), qr/arg is longer than 16777215 bytes/);
bad('a payload of 40 MB', encode_json({ funcname => 'bad',
    arg => 'z' x (40 << 20) }), qr/arg is longer than 16777215 bytes/);
my ($reply) = inject(encode_json({ funcname => 'big', arg => 'x' x $max }));
ok($reply, 'an arg of exactly 16777215 bytes is accepted');
ok($t->wait_for('the 16 MB job to run', 120, sub {
	grep { length($_) == $max } ran_args('big') }), 'and runs whole');
good('payload sizes');

# Function names full of quotes and SQL: stored and run as they are.
my @names = ("it's", 'say "hi"', "x'; DROP TABLE job; --",
    "Robert'); DELETE FROM job WHERE ('1'='1", 'back\\slash', '100%_like',
    '`tick`', "tab\there", "f\x{fc}nf \x{2713}");
my %sent;
for my $name (@names) {
	worker_for($name);
}
sleep 1;    # the workers register
for my $name (@names) {
	my ($r, undef, $w) = inject(encode_json({ funcname => $name,
	    arg => "for $name" }));
	ok($r, "funcname " . encode_json($name) . ": accepted") or diag($w);
}
for my $name (@names) {
	# gv_consume writes the arg's bytes, escaping all but printable
	# ASCII; a name above U+00FF travels as UTF-8.
	utf8::encode(my $bytes = $name);
	(my $want = "for $bytes") =~ s/([^\x20-\x5b\x5d-\x7e])/
	    sprintf('\\x%02x', ord($1))/gex;
	ok($t->wait_for("the job of " . encode_json($name) . " to run", 30,
	    sub { grep { $_ eq $want } ran_args($name) }),
	    'funcname ' . encode_json($name) . ': ran under its own name');
}
is($t->dbh(1)->selectrow_array(
    q{SELECT COUNT(*) FROM information_schema.tables
      WHERE table_schema = DATABASE() AND table_name = 'job'}), 1,
    'the job table is still there');

# Unique keys and delays.
bad('a unique key of 64 bytes', encode_json({ funcname => 'bad',
    arg => 'k', uniqkey => 'k' x 64 }), qr/uniqkey is longer than 63 bytes/);
bad('a unique key of 10 kB', encode_json({ funcname => 'bad',
    arg => 'k', unique => 'k' x 10000 }), qr/unique is longer than 63 bytes/);
($reply) = inject(encode_json({ funcname => 'good', arg => 'key63',
    uniqkey => 'q' x 63 }));
ok($reply, 'a unique key of 63 bytes is accepted');
bad('a negative delay', '{"funcname":"bad","arg":"d","delay":-1}',
    qr/must not be negative/);
bad('a negative delay as a string', '{"funcname":"bad","arg":"d",'
    . '"delay":"-30"}', qr/must not be negative/);
bad('a huge delay', '{"funcname":"bad","arg":"d","delay":1e300}',
    qr/at most 315360000 seconds/);
bad('a delay past 64 bits', '{"funcname":"bad","arg":"d",'
    . '"delay":123456789012345678901234567890}', qr/not JSON|at most/);
bad('a delay of ten years and a second', '{"funcname":"bad","arg":"d",'
    . '"delay":315360001}', qr/at most 315360000 seconds/);
bad('a delay that is a word', '{"funcname":"bad","arg":"d",'
    . '"delay":"tomorrow"}', qr/must be a number of seconds/);
bad('a delay that is a list', '{"funcname":"bad","arg":"d","delay":[1]}',
    qr/must be a number of seconds/);
bad('a fractional delay', '{"funcname":"bad","arg":"d","run_after":0.5}',
    qr/whole number/);
bad('a delay given twice', '{"funcname":"bad","arg":"d","delay":1,'
    . '"run_after":2}', qr/not both/);
bad('a duplicate key', '{"funcname":"bad","funcname":"evil","arg":"d"}',
    qr/not JSON|duplicate/);
bad('a NUL in funcname', '{"funcname":"bad\u0000","arg":"d"}',
    qr/NUL/);
good('keys and delays');

# Every good job ran, the Injectors never died.
ok($t->wait_for('every good job to run', 60, sub {
	my %r = map { $_ => 1 } ran_args('good');
	!grep { !$r{"good $_"} } 1 .. $goods }), "all $goods good jobs ran");
ok($t->wait_for('the table to drain', 60, sub { $t->count(1) == 0 }),
    'the table drains');
is_deeply([sort $c->pool_pids('injector')], \@injectors,
    'the same Injectors served every call');
is($t->status_json->{pools}{injector}{restarts}, 0, 'no Injector restarted');
is($c->stop_master, 0, 'the master stops gracefully');
done_testing();
