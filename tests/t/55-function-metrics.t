#!/usr/bin/perl
# Per-function metrics, on real servers: a master with a cap of 4
# functions (metrics_functions) runs
# - alpha, in throughput mode (rows inserted, dispatched by a QueueRunner);
# - beta, in low latency (inject_jobs), completed by a Controller;
# - failer, whose worker fails: once, then again, which parks it;
# - slowll, whose worker outlives its job_timeout;
# - later (delayed, cancelled through cancel_jobs by key and by id) and
#   gamma (one row), both past the cap: counted under _other.
# The status file's "functions", its sums against the pool counters, the
# Prometheus file and gvctl stats --prometheus say the same.
use strict;
use warnings;
use Test::More;
use Gearman::Client;
use JSON::PP;
use List::Util qw(sum0);
use GvTest;

my $t = GvTest->new(dbs => 1);
my $prom = $t->dir . '/metrics.prom';
my $ini = $t->write_ini('garivini.status_interval' => 0.5,
    'garivini.prometheus_file' => $prom, 'garivini.metrics_functions' => 4,
    'queue_runner.lease_seconds' => 300, 'queue_runner.batch_run_sleep' => 0.1,
    'queue_runner.processes' => 1, 'injector.processes' => 1,
    'controller.processes' => 1, 'controller.max_failures' => 0,
    'function.failer.max_failures' => 2, 'function.slowll.job_timeout' => 1);
my $master = $t->spawn($t->build_path('garivini'), '-c', $ini);
ok($t->wait_for_log(qr/master notice: ready/, 30), 'the master is ready');

my $script = $t->dir . '/worker.pl';
GvTest::_write_file($script, <<'PERL');
use strict;
use warnings;
use Gearman::Worker;
my ($servers) = @ARGV;
my $w = Gearman::Worker->new(job_servers => [split /,/, $servers]);
$w->register_function(alpha => sub { 'done' });
$w->register_function(gamma => sub { 'done' });
$w->register_function(beta => sub { 'done' });
$w->register_function(failer => sub { undef });
$w->register_function(slowll => sub { sleep 3; 'late' });
$w->work while 1;
PERL
# Two, so that slowll's sleep holds up nothing else.
my @workers = map { $t->spawn('perl', $script, $t->gearman_servers) } 1 .. 2;

my $client = Gearman::Client->new(
    job_servers => [split /,/, $t->gearman_servers]);
sub call {
	my ($func, $payload) = @_;
	my $res = $client->do_task($func, encode_json($payload),
	    { timeout => 30 });
	die "$func failed" unless $res;
	return decode_json($$res);
}
my $dbh = $t->dbh(1);

# The status file's metrics of a function (an empty hash before any).
sub fn {
	my ($name) = @_;
	my $st = $t->status_json or return {};
	return $st->{functions}{$name} // {};
}
sub wait_fn {
	my ($name, %want) = @_;
	my $what = join(', ', map { "$_ $want{$_}" } sort keys %want);
	ok($t->wait_for("$name: $what", 30, sub {
		my $f = fn($name);
		return !grep { ($f->{$_} // -1) != $want{$_} } keys %want;
	}), "$name: $what") or diag(explain(fn($name)));
}

# ---- in the order that decides which four get a label of their own ------
$t->insert_job(1, funcname => 'alpha', arg => "a$_") for 1 .. 5;
wait_fn('alpha', dispatched => 5);

call('inject_jobs', { funcname => 'beta', arg => "b$_" }) for 1 .. 4;
wait_fn('beta', dispatched => 4, done => 4);

my $failer = call('inject_jobs', { funcname => 'failer', arg => 'f' });
wait_fn('failer', dispatched => 1, failed => 1, parked => 0);
# Due again now rather than after its backoff: the second failure parks.
$dbh->do('UPDATE job SET run_after = UNIX_TIMESTAMP() WHERE jobid = ?',
    undef, $failer->{jobid});
wait_fn('failer', dispatched => 2, failed => 2, parked => 1);
my ($parked) = $dbh->selectrow_array('SELECT run_after >= 2147483647 FROM '
    . 'job WHERE jobid = ?', undef, $failer->{jobid});
ok($parked, 'the job is parked indeed');

call('inject_jobs', { funcname => 'slowll', arg => 's' });
wait_fn('slowll', dispatched => 1, failed => 1, timed_out => 1, parked => 0);

# Past the cap.
my @later = map { call('inject_jobs', { funcname => 'later', arg => "l$_",
    uniqkey => "k$_", delay => 600 }) } 1 .. 3;
my $by_key = call('cancel_jobs', { funcname => 'later', uniqkey => 'k1' });
my $by_id = call('cancel_jobs', { dbid => 1, jobid => $later[1]{jobid} });
ok($by_key->{cancelled} && $by_id->{cancelled}, 'two cancelled');
$t->insert_job(1, funcname => 'gamma', arg => 'g');
wait_fn('_other', dispatched => 1, cancelled => 2);

# ---- the status file ---------------------------------------------------------
my $st = $t->status_json;
my $fns = $st->{functions};
is_deeply([sort keys %$fns], [qw(_other alpha beta failer slowll)],
    'four functions and _other: later and gamma are past the cap');
my %expect = (
	alpha => { dispatched => 5 },
	beta => { dispatched => 4, done => 4 },
	failer => { dispatched => 2, failed => 2, parked => 1 },
	slowll => { dispatched => 1, failed => 1, timed_out => 1 },
	_other => { dispatched => 1, cancelled => 2 },
);
my @counters = qw(dispatched done failed parked timed_out cancelled);
my @les = qw(0.005 0.01 0.05 0.1 0.5 1 5 10 60 300 +Inf);
for my $name (sort keys %expect) {
	my $f = $fns->{$name};
	is_deeply({ map { $_ => $f->{$_} } @counters },
	    { map { $_ => $expect{$name}{$_} // 0 } @counters },
	    "$name: every counter");
	my $lat = $f->{latency};
	is_deeply([sort keys %{ $lat->{buckets} }], [sort @les],
	    "$name: the documented buckets");
	my @cum = map { $lat->{buckets}{$_} } @les;
	ok(!grep({ $cum[$_] < $cum[$_ - 1] } 1 .. $#cum),
	    "$name: the buckets are cumulative");
	is($lat->{count}, $f->{dispatched},
	    "$name: one latency per dispatch");
	is($lat->{buckets}{'+Inf'}, $lat->{count}, "$name: +Inf is the count");
	ok($lat->{sum} >= 0, "$name: a sum");
}

# The counts per function add up to the pools' counters.
for my $c (qw(dispatched done failed)) {
	my $pools = sum0(map { $_->{"jobs_$c"} } values %{ $st->{pools} });
	my $funcs = sum0(map { $_->{$c} } values %$fns);
	is($funcs, $pools, "$c: the functions add up to the pools ($pools)");
}
cmp_ok($st->{pools}{injector}{jobs_dispatched}, '>', 0,
    'Injectors count what they submit at once as dispatched');

# ---- the Prometheus file -------------------------------------------------------
my $pr = '';
ok($t->wait_for('the Prometheus file', 10, sub {
	$pr = GvTest::_read_file($prom);
	return $pr =~ /function="_other"\} 2$/m;
}), 'the Prometheus file has the function metrics');
sub prom_checks {
	my ($text, $what) = @_;
	like($text, qr/^# TYPE garivini_function_jobs_dispatched_total counter$/m,
	    "$what: TYPE of a counter");
	like($text, qr/^garivini_function_jobs_dispatched_total\{function="alpha"\} 5$/m,
	    "$what: alpha dispatched");
	like($text, qr/^garivini_function_jobs_parked_total\{function="failer"\} 1$/m,
	    "$what: failer parked");
	like($text, qr/^garivini_function_jobs_timed_out_total\{function="slowll"\} 1$/m,
	    "$what: slowll timed out");
	like($text, qr/^garivini_function_jobs_cancelled_total\{function="_other"\} 2$/m,
	    "$what: cancels past the cap");
	like($text, qr/^# TYPE garivini_function_start_latency_seconds histogram$/m,
	    "$what: TYPE of the histogram");
	like($text, qr/^garivini_function_start_latency_seconds_bucket\{function="beta",le="\+Inf"\} 4$/m,
	    "$what: beta's +Inf bucket");
	like($text, qr/^garivini_function_start_latency_seconds_count\{function="alpha"\} 5$/m,
	    "$what: alpha's count");
	like($text, qr/^garivini_function_start_latency_seconds_sum\{function="alpha"\} [0-9.]+$/m,
	    "$what: alpha's sum");
	my $label = qr/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"/;
	my @bad = grep { !/^#/ && !/^[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{$label(?:,$label)*\})? -?[0-9]+(?:\.[0-9]+)?$/ }
	    split /\n/, $text;
	is_deeply(\@bad, [], "$what: every line is a comment or a sample");
	my @labels = $text =~ /^garivini_function_jobs_done_total\{function="([^"]*)"\}/mg;
	is_deeply([sort @labels], [qw(_other alpha beta failer slowll)],
	    "$what: the labels are bounded by the cap");
}
prom_checks($pr, 'file');
like($pr, qr/^garivini_jobs_done_total\{pool="controller"\} 4$/m,
    'file: the pool counters are still there');

# ---- gvctl stats --prometheus: the database, then the master's counters ------
# An INI like the master's, but with no prometheus_file: where the master
# writes one, gvctl leaves the function families to it (published side by
# side, they would repeat its series).
sub ini_with {
	my ($name, $from, $to) = @_;
	my $text = GvTest::_read_file($ini);
	$text =~ s{$from}{$to}m or die "$from not in $ini";
	GvTest::_write_file($t->dir . "/$name", $text);
	return $t->dir . "/$name";
}
my $noprom = ini_with('noprom.ini', qr/^prometheus_file = .*$/m, '');
my ($code, $out, $err) = $t->run($t->build_path('gvctl'), '-c', $noprom,
    'stats', '--prometheus');
is($code, 0, 'gvctl stats --prometheus') or diag($err);
like($out, qr/^garivini_jobs\{function="later",state="scheduled"\} 1$/m,
    'gvctl: the database figures');
prom_checks($out, 'gvctl');

# The master's INI: its prometheus_file has them, gvctl says so.
($code, $out) = $t->run($t->build_path('gvctl'), '-c', $ini, 'stats',
    '--prometheus');
is($code, 0, 'gvctl stats --prometheus, the master writing a file');
like($out, qr/^# no per-function counters: the master writes them to its prometheus_file$/m,
    'a comment says where they are');
unlike($out, qr/^garivini_function_(?:jobs|start)_/m, 'and none are repeated');

# Without a status file, the database figures alone, and a comment says so.
my $nostatus = ini_with('nostatus.ini', qr/^status_file = .*$/m,
    "status_file = $t->{dir}/absent.json");
my $text = GvTest::_read_file($nostatus);
$text =~ s/^prometheus_file = .*$//m;
GvTest::_write_file($nostatus, $text);
($code, $out) = $t->run($t->build_path('gvctl'), '-c', $nostatus, 'stats',
    '--prometheus');
is($code, 0, 'gvctl stats --prometheus with no status file: still 0');
like($out, qr/^# no per-function counters: the master's status file cannot be read$/m,
    'a comment says why');
unlike($out, qr/^garivini_function_(?:jobs|start)_/m,
    'and no function counters');

$t->stop($_) for @workers;
is($t->stop($master, 'TERM', 20), 0, 'the master stops');
done_testing();
