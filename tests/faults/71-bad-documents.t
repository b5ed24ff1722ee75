#!/usr/bin/perl
# run_queued_job fed documents that no QueueRunner or Injector wrote:
# malformed ones are refused with a message, well-formed ones naming a job
# that does not exist, a database that is not configured or an attempt that
# is not the row's are dropped unrun, and the Controllers go on serving.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use JSON::PP;
use GvChaos;

my $c = GvChaos->new(dbs => 1, ini => { 'queue_runner.lease_seconds' => 30,
    'controller.processes' => 2 });
my $t = $c->t;
$c->start_master;
my @controllers = sort $c->pool_pids('controller');

my $ran = $t->dir . '/ran.txt';
$t->spawn($t->build_path('gv_consume'), '-c', $c->ini, '-m', 'latency',
    '-f', 'target', '-o', $ran);
sub ran { @{ $t->consume_runs($ran) } }

# One run_queued_job call: (reply or undef, failed, warning message).
sub run_doc { return $t->gearman_call('run_queued_job', $_[0]) }

my %doc = (jobid => 1, dbid => 1, funcname => 'target', arg => 'forged',
    uniqkey => undef, coalesce => undef, run_after => 0, flag => 'controller',
    failcount => 0, attempt => 1);
sub doc { encode_json({ %doc, @_ }) }

my @malformed = (
	[ 'random bytes', join('', map { chr(($_ * 37 + 11) % 256) } 1 .. 500),
	    qr/not JSON/ ],
	[ 'an empty document', '', qr/not JSON/ ],
	[ 'a list', '[1,2,3]', qr/not an object/ ],
	[ 'an empty object', '{}', qr/jobid is missing/ ],
	[ 'jobid 0', doc(jobid => 0), qr/jobid must be a positive integer/ ],
	[ 'a negative jobid', doc(jobid => -5), qr/jobid must be/ ],
	[ 'a jobid that is a word', doc(jobid => 'seven'), qr/jobid must be/ ],
	[ 'a jobid past 64 bits', '{"jobid":99999999999999999999999,"dbid":1,'
	    . '"funcname":"target","arg":"x"}', qr/not JSON|jobid must be/ ],
	[ 'no dbid', encode_json({ jobid => 1, funcname => 'target',
	    arg => 'x' }), qr/dbid is missing/ ],
	[ 'no funcname', encode_json({ jobid => 1, dbid => 1, arg => 'x' }),
	    qr/funcname is missing/ ],
	[ 'a funcname that is a number', doc(funcname => 5),
	    qr/funcname must be a string/ ],
	[ 'an arg that is an object', doc(arg => { a => 1 }),
	    qr/arg must be a string/ ],
	[ 'an arg above U+00FF', doc(arg => "\x{263a}"),
	    qr/not a byte string/ ],
	[ 'an unknown flag', doc(flag => 'urgent'), qr/flag must be/ ],
	[ 'a negative attempt', doc(attempt => -1), qr/attempt must be/ ],
	[ 'an attempt past 32 bits', doc(attempt => 2**32),
	    qr/attempt must be/ ],
	[ 'invalid UTF-8', '{"jobid":1,"dbid":1,"funcname":"t\xff","arg":"x"}',
	    qr/not JSON/ ],
	[ 'nesting 100,000 deep', '[' x 100000, qr/not JSON/ ],
);
for my $case (@malformed) {
	my ($what, $doc, $re) = @$case;
	my ($reply, undef, $warning) = run_doc($doc);
	ok(!defined $reply, "$what: refused");
	like($warning, $re, "$what: the message says why");
}

# Well-formed, but not a job this system holds.
my $future = $t->insert_job(1, funcname => 'target', arg => 'held',
    run_after => time + 3600);
my @stale = (
	[ 'a job that does not exist', doc(jobid => 987654321) ],
	[ 'a database that is not configured', doc(jobid => $future,
	    dbid => 9) ],
	[ 'a job of another attempt', doc(jobid => $future, attempt => 7) ],
	[ 'a job of the original (no attempt)', encode_json({ jobid =>
	    987654322, dbid => 1, funcname => 'target', arg => 'x' }) ],
);
for my $case (@stale) {
	my ($what, $doc) = @$case;
	my ($reply) = run_doc($doc);
	ok(defined $reply, "$what: handled");
}
sleep 1;
is(scalar(ran()), 0, 'none of them ran');
my $row = $t->dbh(1)->selectrow_hashref('SELECT run_after - UNIX_TIMESTAMP() '
    . 'AS due, attempt, failcount FROM job WHERE jobid = ?', undef, $future);
ok($row && $row->{due} > 3000 && $row->{attempt} == 0 &&
    $row->{failcount} == 0, 'the real row is untouched');

# A document naming the row as it is, while the row is only scheduled (not
# out): not this copy's to run, or a delayed job would run early.
my ($reply) = run_doc(doc(jobid => $future, attempt => 0, arg => 'held'));
ok(defined $reply, 'a document for a scheduled row: handled');
sleep 1;
is(scalar(ran()), 0, 'but not run before its time');

# Once the row is out (leased, as the Injector or a QueueRunner leaves it
# when it sends the job), the same document runs.
$t->dbh(1)->do('UPDATE job SET leased = 1 WHERE jobid = ?', undef, $future);
($reply) = run_doc(doc(jobid => $future, attempt => 0, arg => 'held'));
ok(defined $reply, 'a document for the row as it is: handled');
ok($t->wait_for('it to run', 20, sub { grep { $_->{arg} eq 'held' } ran() }),
    'and run');
ok($t->wait_for('its row to go', 20, sub { $t->count(1) == 0 }),
    'and completed');

my @log = $c->log_grep(qr/controller\/\d+ info: refused a run_queued_job/);
is(scalar(@log), scalar(@malformed), 'each refusal is logged');
is_deeply([sort $c->pool_pids('controller')], \@controllers,
    'the same Controllers served every document');
is($t->status_json->{pools}{controller}{restarts}, 0,
    'no Controller restarted');
is($c->stop_master, 0, 'the master stops gracefully');
done_testing();
