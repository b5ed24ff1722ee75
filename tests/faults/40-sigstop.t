#!/usr/bin/perl
# A worker frozen (SIGSTOP) for longer than its lease, then thawed
# (SIGCONT): the job is sent again meanwhile, and the late completion of the
# old attempt must not delete the row of the newer one.
#
# First exactly, with one job: worker A takes attempt 1 and is frozen; the
# lease ends and the job is claimed again as attempt 2; A is thawed and
# completes attempt 1: its DELETE reaches the server and deletes nothing,
# the row stays, and worker B runs attempt 2, which deletes it. Then under
# load in both modes: a gv_consume frozen (throughput), a Controller frozen
# (low latency).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use GvChaos;

# A MariaDB of its own: the server's global counters (Handler_delete)
# must count this test's statements alone.
my $c = GvChaos->new(dbs => 1, own_mariadb => 1);
my $t = $c->t;
my $lease = $c->lease;
$c->start_master;

sub read_lines {
	my ($f) = @_;
	open(my $fh, '<', $f) or return ();
	my @l = <$fh>;
	close $fh;
	return @l;
}

# --- one job, exactly -------------------------------------------------------
my ($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c',
    $c->ini, '-f', 'fenced', '-a', 'only-once-please');
is($code, 0, 'one job inserted') or diag($err);
my ($ra, $rb) = map { $t->dir . "/fenced-$_.txt" } qw(a b);
my $a = $t->spawn({ name => 'worker-a' }, $t->build_path('gv_consume'),
    '-c', $c->ini, '-f', 'fenced', '-s', 2, '-n', 1, '-o', $ra);
ok($t->wait_for('worker A to take the job', 20, sub { -s $ra }),
    'worker A took attempt 1');
kill 'STOP', $a;
like((read_lines($ra))[0], qr/^1\t\d+\t1\t0\tonly-once-please$/,
    'A runs attempt 1');
my $dbh = $t->dbh(1);
my $attempt = sub {
	($dbh->selectrow_array(q{SELECT attempt FROM job
	    WHERE funcname = 'fenced'}))[0] // 0;
};
ok($t->wait_for('the lease to end and the job to be sent again',
    $lease + 10, sub { $attempt->() >= 2 }), 'attempt 2 dispatched while A '
    . 'is frozen');
# The server's counters show A's completion arrive and delete nothing
# (gv_consume batches completions and does not report stale ones one by
# one); nothing else deletes rows meanwhile.
my $status = sub {
	my %s = map { @$_ } @{ $t->_admin_dbh->selectall_arrayref(q{SHOW
	    GLOBAL STATUS WHERE Variable_name IN ('Com_delete',
	    'Handler_delete')}) };
	return \%s;
};
my $before = $status->();
kill 'CONT', $a;
is($t->wait_exit($a, 10), 0, 'A thawed, finished attempt 1 and exited');
my $after = $status->();
cmp_ok($after->{Com_delete} - $before->{Com_delete}, '>=', 1,
    'A sent its completion');
is($after->{Handler_delete} - $before->{Handler_delete}, 0,
    'which deleted nothing');
is($t->count(1, q{funcname = 'fenced'}), 1,
    'the late completion did not delete the newer attempt');
my $b = $t->spawn({ name => 'worker-b' }, $t->build_path('gv_consume'),
    '-c', $c->ini, '-f', 'fenced', '-n', 1, '-o', $rb);
ok($t->wait_for('worker B to run the job', 20, sub {
	$t->count(1, q{funcname = 'fenced'}) == 0 }), 'B completes it');
like((read_lines($rb))[0], qr/^1\t\d+\t[2-9]\t0\tonly-once-please$/,
    'B ran the newer attempt');
is($t->wait_exit($b, 10), 0, 'B exits');

# --- under load --------------------------------------------------------------
# The workers take 20 ms a job, so the one frozen is almost surely frozen
# with a job in hand, before its completion.
$c->scenario('sigstop', 'throughput', sub {
	my ($c, $s) = @_;
	my $victim = $s->{consumers}[0];
	kill 'STOP', $victim;
	sleep $lease + 2;
	kill 'CONT', $victim;
}, consumer_args => ['-s', 0.02], per_round => 20, pause => 0.2);
# A Controller the scoreboard shows busy: it holds a job and waits for its
# worker's result.
$c->scenario('sigstop', 'latency', sub {
	my ($c) = @_;
	my $victim;
	# Jobs pass through in bursts (20 a round, then a pause), so a look
	# every status_interval can miss every busy moment: the master is
	# asked for the status file (USR1) every 50 ms.
	my $deadline = time + 10;
	while (!$victim && time < $deadline) {
		kill 'USR1', $c->master;
		sleep 0.05;
		my $st = $t->status_json or next;
		($victim) = map { $_->{pid} } grep { $_->{pool} eq 'controller'
		    && $_->{state} eq 'busy' } @{ $st->{children} };
	}
	note('no Controller was seen busy in 10 s: the first is frozen')
	    unless $victim;
	$victim //= ($c->pool_pids('controller'))[0];
	kill 'STOP', $victim;
	sleep $lease + 2;
	kill 'CONT', $victim;
	ok($t->running($victim), 'the frozen Controller runs on');
}, consumer_args => ['-s', 0.01], per_round => 20, pause => 0.2);
my $st = $t->status_json;
is($st->{pools}{controller}{restarts}, 0, 'no child was restarted');
is($c->stop_master, 0, 'the master stops gracefully');
done_testing();
