#!/usr/bin/perl
# A submission gearmand queued but never acknowledged (its JOB_CREATED lost
# on the way back) must not undo what the worker decided about the job. The
# roles reach gearmand through a proxy that drops JOB_CREATED; the worker
# and the clients talk to gearmand directly. The worker fails each job
# (failcount 1, due again in two minutes): neither the QueueRunner's release
# nor the Injector's must make it due again sooner, or run it again.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep);
use GvTest;

my $t = GvTest->new(dbs => 1);
my $proxy_port = GvTest::_free_port();
my $proxy = $t->spawn({ name => 'gmproxy' }, $^X,
    $t->repo_dir . '/tests/bin/gmproxy.pl', '--port', $proxy_port,
    '--to', '127.0.0.1:' . $t->gearmand_port(1), '--drop-created');
ok($t->wait_for_log(qr/^ready$/, 10, $t->spawn_out($proxy)),
    'the proxy listens');

my %common = ('queue_runner.lease_seconds' => 60,
    'queue_runner.queue_watermark_depth' => 0);
my $direct = $t->write_ini(%common);
my $roles = $t->write_ini(%common, file => 'roles.ini',
    'garivini.gearman_servers' => "127.0.0.1:$proxy_port");
chmod(0600, $direct, $roles);

# The job's row, as seconds until it is due, failcount and leased.
sub row {
	my ($func) = @_;
	return $t->dbh(1)->selectrow_arrayref('SELECT CAST(run_after AS SIGNED) '
	    . '- UNIX_TIMESTAMP(), failcount, leased FROM job WHERE funcname = ?',
	    undef, $func);
}

sub runs {
	my ($file) = @_;
	return scalar @{ $t->consume_runs($file) };
}

# Throughput mode: the QueueRunner's release after its submit timed out.
{
	my $ran = $t->dir . '/qr.txt';
	my $worker = $t->spawn($t->build_path('gv_consume'), '-c', $direct,
	    '-f', 'qr_failing', '--fail', '-o', $ran);
	my ($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c',
	    $direct, '-f', 'qr_failing', '-a', 'once');
	is($code, 0, 'a job inserted') or diag($err);
	my $runner = $t->spawn($t->build_path('garivini'), '--role',
	    'queue_runner', '-c', $roles);
	ok($t->wait_for('the worker to fail it', 20, sub { runs($ran) >= 1 }),
	    'the job ran and failed');
	# The QueueRunner gives up on the submit once gearmand's answer has not
	# come (on two connections); whatever it does with the row then is one
	# statement right after this line.
	ok($t->wait_for_log(qr/gearmand 127\.0\.0\.1:$proxy_port/, 30), 'the QueueRunner saw no acknowledgement');
	sleep 1;
	my $r = row('qr_failing');
	is($r->[1], 1, 'failcount is the worker\'s');
	is($r->[2], 0, 'not leased: the worker rescheduled it');
	cmp_ok($r->[0], '>', 60, "still due in two minutes, as the worker "
	    . "decided ($r->[0] s)");
	is(runs($ran), 1, 'it ran once');
	$t->stop($runner, 'TERM', 10);
	$t->stop($worker, 'TERM', 10);
}

# Low-latency mode: the Injector's short lease after its submit timed out.
{
	my $ran = $t->dir . '/inj.txt';
	my $worker = $t->spawn($t->build_path('gv_consume'), '-c', $direct,
	    '-f', 'inj_failing', '--fail', '-o', $ran);
	my $injector = $t->spawn($t->build_path('garivini'), '--role',
	    'injector', '-c', $roles);
	ok($t->wait_for_log(qr/serving inject_jobs/, 20), 'the Injector serves');
	# gv_inject talks to gearmand directly: only the Injector's own
	# submit loses its JOB_CREATED.
	my ($code, $out, $err) = $t->run({ timeout => 60 },
	    $t->build_path('gv_inject'), '-c', $direct, '-m', 'latency',
	    '--shim', '-f', 'inj_failing', '-a', 'once');
	is($code, 0, 'a job injected') or diag($out, $err);
	ok($t->wait_for('the worker to fail it', 20, sub { runs($ran) >= 1 }),
	    'the job ran and failed');
	ok($t->wait_for_log(qr/(?:not submitted to|no answer from) 127\.0\.0\.1:$proxy_port/, 30), 'the Injector saw no acknowledgement');
	sleep 1;
	my $r = row('inj_failing');
	is($r->[1], 1, 'failcount is the worker\'s');
	is($r->[2], 0, 'not leased: the worker rescheduled it');
	cmp_ok($r->[0], '>', 60, "still due in two minutes, as the worker "
	    . "decided ($r->[0] s)");
	is(runs($ran), 1, 'it ran once');
	$t->stop($injector, 'TERM', 10);
	$t->stop($worker, 'TERM', 10);
}
$t->stop($proxy, 'TERM', 5);

done_testing();
