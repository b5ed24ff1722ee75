#!/usr/bin/perl
# The Controller under partial faults of gearmand (issue 27). Its roles reach
# gearmand through tests/bin/gmproxy.pl; the Injector, the workers and the
# clients talk to gearmand directly.
#
# 1. gearmand cannot say whether a worker has a job: the question's fresh
#    connection is refused (the proxy after SIGUSR1) while the slot's own
#    connection and the worker are well. The job must not be read as "still
#    queued": at its job_timeout it is neither released nor charged, and its
#    result completes it when it comes; a graceful stop waits for it rather
#    than give it back (where it would run again while the worker runs it).
# 2. A submission gearmand never acknowledged (JOB_CREATED dropped by the
#    proxy) is not the job's fault: no failure is counted at its
#    job_timeout, and a stopping Controller does not wait its job_timeout out.
# 3. (defect 6) A completion is counted when it commits, not when it is handed
#    to the flusher: one that meets a newer attempt (stale) is not counted, in
#    the pool's jobs_done nor in the function's done.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 1);

sub proxy {
	my (@opt) = @_;
	my $port = GvTest::_free_port();
	my $pid = $t->spawn({ name => "gmproxy-$port" }, $^X,
	    $t->repo_dir . '/tests/bin/gmproxy.pl', '--port', $port, '--to',
	    '127.0.0.1:' . $t->gearmand_port(1), @opt);
	ok($t->wait_for_log(qr/^ready$/, 10, $t->spawn_out($pid)),
	    "a proxy listens on $port");
	return ($pid, $port);
}

sub lines {
	my ($file) = @_;
	open(my $fh, '<', $file) or return 0;
	my @l = <$fh>;
	return scalar @l;
}

sub log_lines {
	my ($re) = @_;
	open(my $fh, '<', $t->log_path) or return ();
	return grep { $_ =~ $re } <$fh>;
}

sub inject {
	my ($func, $arg) = @_;
	my ($code, $out, $err) = $t->run($t->build_path('gv_inject'), '-c',
	    $t->ini_path, '-m', 'latency', '-f', $func, '-a', $arg);
	is($code, 0, "$func: a job injected") or diag($out, $err);
}

sub failcount {
	my ($func) = @_;
	return $t->dbh(1)->selectrow_array('SELECT failcount FROM job WHERE '
	    . 'funcname = ?', undef, $func);
}

my %common = ('queue_runner.lease_seconds' => 60,
    'function.slow.job_timeout' => 2, 'function.unacked.job_timeout' => 3,
    'function.unacked_stop.job_timeout' => 600);
my $direct = $t->write_ini(%common);
my $injector = $t->spawn($t->build_path('garivini'), '--role', 'injector',
    '-c', $direct);
ok($t->wait_for_log(qr/serving inject_jobs/, 20), 'the Injector serves');

# --- 1. a status question that fails ----------------------------------------
{
	my ($proxy, $port) = proxy();
	my $roles = $t->write_ini(%common, file => 'refused.ini',
	    'garivini.gearman_servers' => "127.0.0.1:$port");
	my $ctl = $t->spawn($t->build_path('garivini'), '--role', 'controller',
	    '-c', $roles);
	my ($warm, $slow, $slow_stop) = map { $t->dir . "/$_.txt" }
		qw(warm slow slow_stop);
	my @workers = (
	    $t->spawn($t->build_path('gv_consume'), '-c', $direct, '-f', 'warm',
		    '-m', 'latency', '-o', $warm),
	    $t->spawn($t->build_path('gv_consume'), '-c', $direct, '-f', 'slow',
		    '-m', 'latency', '-s', 8, '-o', $slow),
	    $t->spawn($t->build_path('gv_consume'), '-c', $direct, '-f',
		    'slow_stop', '-m', 'latency', '-s', 8, '-o', $slow_stop));
	# One job while gearmand takes new connections: the slot that runs the
	# next ones has its connection.
	inject('warm', 'first');
	ok($t->wait_for('the warm-up job to complete', 20,
	    sub { $t->count(1, 'funcname = ?', 'warm') == 0 }),
	    'a job ran through the proxy');
	ok(kill('USR1', $proxy), 'the proxy refuses new connections');

	# Past its job_timeout (2 s), a worker runs it for 8 s: the question
	# fails, the Controller waits for the result.
	inject('slow', 'past its deadline');
	ok($t->wait_for('the worker to start it', 20, sub { lines($slow) }),
	    'the worker started it');
	ok($t->wait_for('the job to complete', 25,
	    sub { $t->count(1, 'funcname = ?', 'slow') == 0 }),
	    'its result completed it, after its job_timeout');
	is(scalar(log_lines(qr/\(slow\).*(?:no worker took it|failed)/)), 0,
	    'it was neither given back as untaken nor failed')
	    or diag(log_lines(qr/\(slow\)/));
	is(lines($slow), 1, 'it ran once');

	# A graceful stop while a worker runs a job gearmand cannot say about:
	# after 5 s the Controller gives back only a job known to be queued.
	inject('slow_stop', 'in hand at the stop');
	ok($t->wait_for('the worker to start it', 20, sub { lines($slow_stop) }),
	    'the worker started it');
	is($t->stop($ctl, 'TERM', 30), 0, 'the Controller stops');
	is($t->count(1, 'funcname = ?', 'slow_stop'), 0,
	    'after completing the job in hand, not giving it back');
	is(scalar(log_lines(qr/\(slow_stop\)/)), 0, 'nothing said about it');
	$t->stop($_, 'TERM', 10) for @workers;
	$t->stop($proxy, 'TERM', 5);
}

# --- 2. a submission never acknowledged -------------------------------------
{
	my ($proxy, $port) = proxy('--drop-created');
	my $roles = $t->write_ini(%common, file => 'unacked.ini',
	    'garivini.gearman_servers' => "127.0.0.1:$port");
	my $ctl = $t->spawn($t->build_path('garivini'), '--role', 'controller',
	    '-c', $roles);
	# No worker for it: gearmand queues it, the Controller never hears so.
	inject('unacked', 'never acknowledged');
	ok($t->wait_for_log(qr/\(unacked\).*(?:failed|runs again)/, 20),
	    'its job_timeout (3 s) passed');
	is(failcount('unacked'), 0, 'no failure counted');

	inject('unacked_stop', 'never acknowledged, at the stop');
	ok($t->wait_for('the Controller to submit it', 20, sub {
		my $s = $t->gearman_status(1)->{unacked_stop};
		$s && $s->{total} == 1 }), 'gearmand has it');
	is($t->stop($ctl, 'TERM', 40), 0,
	    'the Controller stops without waiting out its job_timeout (600 s)');
	is(failcount('unacked_stop'), 0, 'no failure counted');
	$t->stop($proxy, 'TERM', 5);
}
$t->stop($injector, 'TERM', 10);

# --- 3. completions counted when they commit --------------------------------
{
	my $ini = $t->write_ini(%common, file => 'master.ini',
	    'garivini.status_interval' => 0.2);
	my $master = $t->spawn($t->build_path('garivini'), '-c', $ini);
	ok($t->wait_for_log(qr/master notice: ready/, 30), 'the master is ready');
	my ($stale, $fresh) = map { $t->dir . "/$_.txt" } qw(stale fresh);
	my @workers = (
	    $t->spawn($t->build_path('gv_consume'), '-c', $direct, '-f',
		    'stale', '-m', 'latency', '-s', 2, '-o', $stale),
	    $t->spawn($t->build_path('gv_consume'), '-c', $direct, '-f',
		    'fresh', '-m', 'latency', '-o', $fresh));
	inject('stale', 'its attempt replaced');
	ok($t->wait_for('the worker to start it', 20, sub { lines($stale) }),
	    'the worker started it');
	# A newer dispatch owns the row now: this run's completion is stale.
	is($t->dbh(1)->do('UPDATE job SET attempt = attempt + 1 WHERE '
	    . 'funcname = ?', undef, 'stale'), 1, 'a newer attempt owns its row');
	ok($t->wait_for('its run to end', 20, sub {
		!($t->gearman_status(1)->{stale} // {})->{total} }),
	    'its run ended');
	# The flusher writes completions in order: once the next one is
	# counted, the stale one was written.
	inject('fresh', 'counted');
	ok($t->wait_for('the next job to be counted', 20, sub {
		my $st = $t->status_json;
		$st && ($st->{functions}{fresh}{done} // 0) == 1 }),
	    'the next completion is counted');
	my $st = $t->status_json;
	is($st->{functions}{stale}{done} // 0, 0,
	    'the stale completion is not counted done');
	is($st->{pools}{controller}{jobs_done}, 1,
	    'the pool counts one job done')
	    or diag(explain($st->{pools}{controller}));
	is($t->count(1, 'funcname = ?', 'stale'), 1,
	    'the row of the newer attempt stays');
	$t->stop($_, 'TERM', 10) for @workers;
	is($t->stop($master, 'TERM', 30), 0, 'the master stops');
}
done_testing();
