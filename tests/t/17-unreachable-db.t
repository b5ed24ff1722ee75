#!/usr/bin/perl
# A role that cannot reach a database stops taking its work from gearmand
# (issue 27, defect 9). Two masters share one gearmand and two databases;
# master A reaches each database through a TCP proxy of its own
# (tests/bin/gmproxy.pl), master B directly. Stopping a proxy makes that
# database unreachable for A alone, as when its only host goes away.
#
#   one database unreachable: A goes on with the other. Its Controller
#     still takes run_queued_job and runs the jobs of the database it
#     reaches; a job of the other one that it took goes back to gearmand
#     at once (another Controller runs it within seconds, not a lease
#     later). Both pools say which database in the status file.
#   both unreachable: A's Injector stops taking inject_jobs and its
#     Controller run_queued_job, and says so in the log and the status
#     file: every inject a client makes is acknowledged (by B), and every
#     job runs within seconds.
#   back: the proxies start again; A takes both functions again.
#   one stopped: a proxy stopped (SIGSTOP), as a stopped server: A's
#     Injector stores every call in the other database once its probe
#     says so, rather than waiting on the stopped one for its read timeout.
#
# Leases are long (120 s) and every wait is shorter: a job left to its
# lease would fail the test. No job runs twice: nothing is broken for the
# jobs themselves, only A's way to the databases.
use strict;
use warnings;
use Test::More;
use GvTest;

my $lease = 120;
my $t = GvTest->new(dbs => 2);

my %proxy;      # dbid => [pid, port]

sub start_proxy {
	my ($dbid, $port) = @_;
	$port //= GvTest::_free_port();
	my $pid = $t->spawn({ name => "dbproxy-$dbid-" . time }, $^X,
	    $t->repo_dir . '/tests/bin/gmproxy.pl', '--port', $port, '--to',
	    $t->db_host . ':' . $t->db_port);
	ok($t->wait_for_log(qr/^ready$/, 10, $t->spawn_out($pid)),
	    "database ${dbid}'s proxy for master A listens on $port");
	$proxy{$dbid} = [$pid, $port];
}

sub stop_proxy {
	my ($dbid) = @_;
	$t->stop($proxy{$dbid}[0], 'TERM', 10);
}

start_proxy($_) for 1, 2;

my %common = ('queue_runner.lease_seconds' => $lease,
    'controller.job_timeout' => 60);
sub master_ini {
	my ($name, %over) = @_;
	my $d = $t->dir;
	return $t->write_ini(%common, file => "$name.ini",
	    'garivini.status_file' => "$d/status-$name.json",
	    'garivini.log_file' => "$d/garivini-$name.log",
	    'garivini.pidfile' => "$d/garivini-$name.pid",
	    'garivini.status_interval' => 0.2, %over);
}
my $ini_a = master_ini('a', 'controller.concurrency' => 8,
    map { ("db.$_.host" => '127.0.0.1', "db.$_.port" => $proxy{$_}[1]) }
    1, 2);
my $ini_b = master_ini('b', 'controller.concurrency' => 2);
my $log_a = $t->dir . '/garivini-a.log';
my %status = (a => $t->dir . '/status-a.json',
    b => $t->dir . '/status-b.json');

my %master = map { $_ => $t->spawn($t->build_path('garivini'), '-c',
    $_ eq 'a' ? $ini_a : $ini_b) } qw(a b);
ok($t->wait_pools(status => $status{$_}), "master ${_}'s pools are full")
    for qw(a b);

my $ran = $t->dir . '/runs.txt';
my @workers = map {
	$t->spawn($t->build_path('gv_consume'), '-c', $ini_b, '-f', 'work',
	    '-m', 'latency', '-s', '0.05', '-o', $ran)
} 1 .. 4;

sub rows {
	return $t->count(1, 'funcname = ?', 'work') +
	    $t->count(2, 'funcname = ?', 'work');
}

sub log_count {
	my ($re) = @_;
	open(my $fh, '<', $log_a) or return 0;
	return scalar grep { $_ =~ $re } <$fh>;
}

# The pools of master A as its status file shows them now.
sub pools_a {
	my $st = $t->status_json($status{a}) or return {};
	return $st->{pools} // {};
}

sub a_says {
	my ($what, $check) = @_;
	return $t->wait_for($what, 30, sub {
		my $p = pools_a();
		return $p->{injector} && $p->{controller} &&
		    $check->($p->{injector}) && $check->($p->{controller});
	});
}

sub ids { join(',', @{ $_[0]{unreachable_dbs} // [] }) }

# Inject $n jobs through inject_jobs, 12 calls at once so that both
# masters' Injectors (4 threads each) take some (one master's idle
# workers, woken first by gearmand, can take every call of fewer), and
# wait for all of them to run.
my $wave = 0;
sub wave {
	my ($n, $name) = @_;
	$wave++;
	$t->gv_inject_ok($ini_b, "$name: every inject acknowledged",
	    mode => 'latency', func => 'work', n => $n, arg => "w$wave-{n}",
	    args => ['-j', 12]);
	ok($t->wait_for("$name: the jobs to run", 40, sub { rows() == 0 }),
	    "$name: every job ran within seconds, not a lease later");
}

wave(40, 'all reachable');

# --- one database unreachable for A ----------------------------------------
stop_proxy(1);
ok(a_says('A to say database 1 is unreachable',
    sub { ids($_[0]) eq '1' && !$_[0]{withdrawn} }),
    'one database down: A\'s pools name it in the status file, and '
    . 'still take their functions');
my $back = qr/(handed|sent) back to gearmand/;
my $before = log_count($back);
wave(100, 'database 1 unreachable for A');
my $took = log_count($back) - $before;
cmp_ok($took, '>', 0, "A's Controller took jobs of database 1 and handed "
    . "them back at once ($took)");
is(log_count(qr/runs when its lease ends/), 0,
    'none of them was left to its lease');

# --- both unreachable for A ---------------------------------------------------
stop_proxy(2);
ok(a_says('A to withdraw',
    sub { ids($_[0]) eq '1,2' && $_[0]{withdrawn} >= 1 }),
    'both databases down: A\'s Injector and Controller withdraw, and the '
    . 'status file says so');
cmp_ok(log_count(qr/injector.*not taking inject_jobs/), '>', 0,
    'the Injector says it stopped taking inject_jobs');
cmp_ok(log_count(qr/controller.*not taking run_queued_job/), '>', 0,
    'the Controller says it stopped taking run_queued_job');
my (undef, $table) = $t->run($t->build_path('gvctl'), '-c', $ini_a,
    'status');
like($table, qr/controller: database 1 does not answer/,
    'gvctl status names the databases that do not answer');
like($table, qr/injector: 1 of its processes take no work/,
    'and the processes that withdrew');
wave(100, 'no database reachable for A');

# --- back -------------------------------------------------------------------
start_proxy($_, $proxy{$_}[1]) for 1, 2;
ok(a_says('A to take its functions again',
    sub { ids($_[0]) eq '' && !$_[0]{withdrawn} }),
    'the databases back: A takes its functions again');
cmp_ok(log_count(
    qr/injector.*taking inject_jobs, cancel_jobs and job_status again/),
    ">", 0,
    'the Injector says it takes inject_jobs again');
my $injected = pools_a()->{injector}{jobs_injected};
wave(100, 'all reachable again');
# Which master's Injector takes a call is gearmand's choice, and A's
# workers may register again only after the wave went by: calls go on,
# a few at a time, until A has stored some (CI once saw the 100 of the
# wave all go to B).
my $more = 0;
ok($t->wait_for('A\'s status file to count stores', 30, sub {
	my ($code) = $t->gv_inject($ini_b, mode => 'latency', func => 'work',
	    n => 10, arg => 'after' . ++$more . '-{n}', args => ['-j', 4]);
	$code == 0 && (pools_a()->{injector}{jobs_injected} // 0) > $injected }),
    'A\'s Injector stores jobs again');
ok($t->wait_for('the jobs after the wave to run', 40, sub { rows() == 0 }),
    'and they ran');

# --- one database stopped for A ----------------------------------------------
# Its proxy stopped (SIGSTOP): A's connections to database 2 hang, as on a
# stopped server, for the read timeout (60 s). Once the probe says so, A's
# Injector stores every call in database 1: no call waits on database 2.
ok(kill('STOP', $proxy{2}[0]), 'A\'s way to database 2 stopped');
ok(a_says('A to say database 2 does not answer',
    sub { ids($_[0]) eq '2' && !$_[0]{withdrawn} }),
    'a stopped database: A names it, and goes on with the other');
my $stored = pools_a()->{injector}{jobs_injected};
# 80 calls at once, so that both masters' Injectors (4 threads each) take
# some: one at a time, the first master's idle workers, woken first by
# gearmand, took them all.
my $answered = 0;
{
	require Gearman::Client;
	require JSON::PP;
	my $client = Gearman::Client->new(
	    job_servers => [split /,/, $t->gearman_servers]);
	my $ts = $client->new_task_set;
	for my $i (1 .. 80) {
		$ts->add_task(inject_jobs => JSON::PP::encode_json(
		    { funcname => 'work', arg => "stopped-$i" }), {
			timeout => 30,
			on_complete => sub {
				my $r = eval { JSON::PP::decode_json(${ $_[0] }) };
				$answered++ if $r && $r->{jobid};
			} });
	}
	$ts->wait(timeout => 40);
}
is($answered, 80, 'every call answered within the client\'s 30 s');
ok($t->wait_for('A\'s status file to count them', 10, sub {
	(pools_a()->{injector}{jobs_injected} // 0) > $stored }),
    'A\'s Injector took some of them, into database 1');
ok($t->wait_for('the jobs to run', 40, sub { rows() == 0 }),
    'they all ran');
ok(kill('CONT', $proxy{2}[0]), 'A\'s way to database 2 back');

my %n;
$n{$_->{arg}}++ for @{ $t->consume_runs($ran) };
is(scalar(keys %n), 420 + 10 * $more, 'every job ran');
my @twice = grep { $n{$_} > 1 } sort keys %n;
is(scalar(@twice), 0, 'none twice') or diag("twice: @twice");

ok($t->running($master{$_}), "master $_ lived through it") for qw(a b);
$t->stop($master{$_}, 'TERM', 30) for qw(a b);
$t->stop($_, 'TERM', 10) for @workers;
done_testing();
