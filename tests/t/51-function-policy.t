#!/usr/bin/perl
# [function.NAME]: a paused function's jobs are stored, by clients and by
# inject_jobs, and not dispatched, while other functions go on; a HUP that
# resumes it runs each of them once; a function's own watermark holds in
# gearmand; a function's own max_failures, job_timeout, lease and retry
# backoff take effect; gvctl shows what is paused.
use strict;
use warnings;
use Test::More;
use JSON;
use GvTest;

my $t = GvTest->new(dbs => 1);
my %base = ('garivini.status_interval' => 0.2,
    'queue_runner.lease_seconds' => 60,
    'queue_runner.batch_run_sleep' => 0.1,
    'queue_runner.queue_watermark_depth' => 100,
    'queue_runner.processes' => 1, 'injector.processes' => 1,
    # One Controller waits out the job of longlease, which has no worker.
    'controller.processes' => 2,
    'function.held.paused' => 'yes', 'function.heldll.paused' => 'yes',
    'function.capped.queue_watermark_depth' => 5,
    'function.flaky.max_failures' => 1, 'function.flakyll.max_failures' => 1,
    'function.slowll.job_timeout' => 1,
    'function.longlease.lease_seconds' => 100,
    # 5, 10, then the cap of 12 s; parked at the 4th failure.
    (map { ("function.$_.retry_first" => 5, "function.$_.retry_max" => 12,
        "function.$_.max_failures" => 4) } qw(backoff backoffll)));
my $ini = $t->write_ini(%base);
my $master = $t->spawn($t->build_path('garivini'), '-c', $ini);
ok($t->wait_for_log(qr/master notice: ready/, 30), 'the master is ready');

my %out = map { $_ => $t->dir . "/$_.txt" } qw(held heldll other);
my @workers = map { $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f',
    $_, '-o', $out{$_}) } qw(held other);
push @workers, $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f',
    'heldll', '-m', 'latency', '-o', $out{heldll});

# The lines of a file; in scalar context, how many.
sub lines {
	my ($path) = @_;
	open(my $fh, '<', $path) or return;
	my @l = <$fh>;
	return @l;
}

sub inject {
	my ($func, $n, @mode) = @_;
	$t->gv_inject_ok($ini, "$n jobs of $func inserted @mode", func => $func,
	    n => $n, arg => "$func @mode {n}", args => \@mode);
}

# Paused: stored by a client and through inject_jobs, not dispatched.
inject('held', 50);
inject('heldll', 20, '-m', 'latency');
inject('other', 50);
ok($t->wait_for('the jobs of other to run', 30,
    sub { lines($out{other}) >= 50 }), 'an unpaused function runs');
sleep 1;    # several QueueRunner rounds
for my $f (qw(held heldll)) {
	is(scalar(lines($out{$f})), 0, "$f: no job of the paused function ran");
	my $s = $t->gearman_status(1)->{$f};
	is($s ? $s->{total} : 0, 0, "$f: none was sent to gearmand");
}
is($t->count(1, 'funcname = ?', 'held'), 50, 'held: all 50 are stored');
is($t->count(1, 'funcname = ?', 'heldll'), 20,
    'heldll: all 20 injected through inject_jobs are stored');
my $s = $t->gearman_status(1)->{run_queued_job};
is($s ? $s->{total} : 0, 0, 'and none waits for a Controller');

my ($code, $out, $err) = $t->run($t->build_path('gvctl'), '-c', $ini,
    'stats');
like($out, qr/^all\s+held \(paused\)\s+/m, 'gvctl stats marks it paused')
    or diag($out, $err);
unlike($out, qr/other \(paused\)/, 'and only it');
($code, $out) = $t->run($t->build_path('gvctl'), '-c', $ini, '--json',
    'stats');
my $js = decode_json($out);
ok($js->{functions}{held}{paused}, 'JSON: paused is true');
ok(!$js->{functions}{other}{paused}, 'JSON: false for the others');

# A function's own watermark, lower than [queue_runner]'s.
inject('capped', 50);
ok($t->wait_for('gearmand to hold capped at its watermark', 20, sub {
	my $c = $t->gearman_status(1)->{capped};
	$c && $c->{total} >= 5 }), 'capped reached its watermark');
sleep 1;
cmp_ok($t->gearman_status(1)->{capped}{total}, '<=', 5,
    'gearmand holds at most its own watermark of capped');

# A function's own max_failures, in libgarivini (gv_failed_job of a client
# of the INI) and in the Controller, and its own job_timeout.
push @workers,
    $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f', 'flaky',
        '--fail'),
    $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f', 'flakydef',
        '--fail'),
    $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f', 'flakyll',
        '-m', 'latency', '--fail'),
    $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f', 'slowll',
        '-m', 'latency', '-s', 4);
sleep 1;
inject('flaky', 1);
inject('flakydef', 1);
inject('flakyll', 1, '-m', 'latency');
inject('slowll', 1, '-m', 'latency');
# failcount, parked, seconds until due and leased of a function's job.
my $state = sub {
	my ($f) = @_;
	my @row = $t->dbh(1)->selectrow_array('SELECT failcount, '
	    . 'run_after = 2147483647, CAST(run_after AS SIGNED) - '
	    . 'UNIX_TIMESTAMP(), leased FROM job WHERE funcname = ?', undef, $f);
	return @row ? \@row : [-1, -1, 0, -1];
};
for my $f (qw(flaky flakyll)) {
	ok($t->wait_for("$f to be parked", 20,
	    sub { $state->($f)->[1] == 1 }), "$f: parked after one failure "
	    . '(its max_failures 1)') or diag(explain($state->($f)));
}
ok($t->wait_for('flakydef to fail once', 20,
    sub { $state->('flakydef')->[0] == 1 }), 'flakydef failed once');
is($state->('flakydef')->[1], 0, 'and, with the default max_failures, is '
    . 'not parked');

# A function's own retry backoff, in libgarivini (gv_failed_job of a client
# of the INI) and in the Controller; other functions keep [controller]'s.
my @failing = (['backoff'], ['backoffll', '-m', 'latency'],
    ['flakydefll', '-m', 'latency']);
push @workers, map { my ($f, @mode) = @$_; $t->spawn($t->build_path(
    'gv_consume'), '-c', $ini, '-f', $f, @mode, '--fail') } @failing;
sleep 1;
inject($_->[0], 1, @$_[1 .. $#$_]) for @failing;
# Failed n times and waiting for its retry (not out again yet).
my $failed = sub {
	my ($f, $n) = @_;
	my $s = $state->($f);
	return $s->[0] == $n && $s->[3] == 0;
};
my $skip_ahead = sub {
	$t->dbh(1)->do('UPDATE job SET run_after = UNIX_TIMESTAMP() WHERE '
	    . 'funcname = ?', undef, $_[0]);
};
for my $f (qw(backoff backoffll)) {
	my @want = (5, 10, 12);
	for my $n (1 .. 3) {
		ok($t->wait_for("$f to fail $n times", 20,
		    sub { $failed->($f, $n) }), "$f: failure $n")
		    or diag(explain($state->($f)));
		my $in = $state->($f)->[2];
		ok($in > $want[$n - 1] - 3 && $in <= $want[$n - 1], "$f: "
		    . "failure $n waits $want[$n - 1] s (got $in)");
		$skip_ahead->($f);
	}
	ok($t->wait_for("$f to be parked", 20,
	    sub { $state->($f)->[1] == 1 }), "$f: parked at its 4th failure")
	    or diag(explain($state->($f)));
}
ok($t->wait_for('flakydefll to fail once', 20,
    sub { $failed->('flakydefll', 1) }), 'flakydefll failed once');
for my $f (qw(flakydef flakydefll)) {
	my $in = $state->($f)->[2];
	ok($in > 100 && $in <= 120, "$f: [controller]'s first retry, 120 s "
	    . "(got $in)");
}
ok($t->wait_for('slowll to time out', 15,
    sub { $state->('slowll')->[0] == 1 }), 'slowll: failed after its '
    . 'job_timeout of 1 s, though its worker takes 4');

# A function's own lease, written by the QueueRunner's claim and by the
# Injector (no worker: the jobs stay out under their lease).
inject('longlease', 1);
inject('longlease', 1, '-m', 'latency');
my $leases = sub {
	$t->dbh(1)->selectcol_arrayref('SELECT CAST(run_after AS SIGNED) - '
	    . 'UNIX_TIMESTAMP() FROM job WHERE funcname = ? AND leased = 1',
	    undef, 'longlease');
};
ok($t->wait_for('both longlease jobs to be out', 20,
    sub { @{ $leases->() } == 2 }), 'both longlease jobs are out');
ok(!grep({ $_ < 90 || $_ > 100 } @{ $leases->() }), 'under its own lease of '
    . '100 s, not [queue_runner]\'s 60') or diag(explain($leases->()));

# Resumed by a reload: every held job runs, once.
$t->write_ini(%base, 'function.held.paused' => 'no',
    'function.heldll.paused' => undef);
kill 'HUP', $master;
ok($t->wait_for('the held jobs to run', 60, sub {
	$t->count(1, 'funcname = ?', 'held') +
	    $t->count(1, 'funcname = ?', 'heldll') == 0 }),
    'a HUP that resumes the functions dispatches their jobs');
sleep 1;
for ([held => 50], [heldll => 20]) {
	my ($f, $n) = @$_;
	my %seen;
	$seen{$_}++ for map { (split /\t/)[-1] } lines($out{$f});
	is(scalar(keys %seen), $n, "$f: each of its $n jobs ran");
	is(scalar(grep { $_ > 1 } values %seen), 0, "$f: none twice");
}

# Paused again by a reload: new jobs wait again.
$t->write_ini(%base);
kill 'HUP', $master;
ok($t->wait_for('the second reload', 20, sub {
	my @done = grep { /master notice: reload done/ } lines($t->log_path);
	@done >= 2 }), 'reloaded');
$t->wait_pools(settled => 1, timeout => 20);
inject('held', 10);
sleep 1.5;
is($t->count(1, 'funcname = ?', 'held'), 10, 'paused again by a HUP');

kill 'TERM', @workers;
$t->wait_exit($_, 10) for @workers;
is($t->stop($master, 'TERM', 30), 0, 'the master stops');
done_testing();
