#!/usr/bin/perl
# Injected database faults, SQLite's discipline: with a GV_FAULTS build
# (make test-faults builds one into build-faults/), GV_FAULT_DB=N[,KIND]
# [,after][,random][,deadlock] makes the Nth database call of every process
# fail as a lost connection: before the server sees it, or ("after") once
# the server has done it and the answer is lost; or as a deadlock the server
# rolled back. For each N of a bounded range and each kind of call (connect,
# claim, insert, delete, update, commit, fetch) the master (and so every
# child), gv_inject and gv_consume all run with the fault, in both modes at
# once; every acknowledged job must still run.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use GvChaos;

# GV_LOG_LEVEL=debug: the processes' log at that level, to read with
# GV_TEST_KEEP=1.
my $c = GvChaos->new(ini => { 'queue_runner.lease_seconds' => 2,
    'garivini.log_level' => $ENV{GV_LOG_LEVEL} // 'info' });
my $t = $c->t;

# The build must have the hook: with every insert failing, nothing is stored
# and the error says the fault did it.
my ($code, undef, $err) = $t->run(
    { env => { GV_FAULT_DB => '1,insert,random' } },
    $t->build_path('gv_inject'), '-c', $c->ini, '-f', 'probe', '-a', 'x');
unless (like($err, qr/fault injected by GV_FAULT_DB/, 'this is a GV_FAULTS '
    . 'build')) {
	diag('GV_BUILD=' . GvTest::build_dir() . ' has no fault injection: '
	    . 'make test-faults builds one in build-faults/');
	done_testing();
	exit 1;
}
is($code, 1, 'gv_inject: the job is refused');
is($t->count(1) + $t->count(2), 0, 'and not stored');

# A bounded range: the first calls of every process (connect, the first
# claim or insert), each kind of call alone, and every Nth call throughout.
my @specs = (
	(map { "$_" } 1 .. 3),              # the Nth call, whatever it is
	(map { "$_,after" } 1 .. 3),
	'2,claim', '1,claim,after', '2,claim,after',
	'1,insert,after',
	'1,delete,after', '1,update,after',
	'1,commit', '1,commit,after', '2,commit,after',
	'7,random', '5,after,random',       # 1 call in 7, 1 in 5
	'1,fetch', '5,fetch,random',        # a row read from a dead connection
	'1,commit,deadlock', '4,deadlock,random', # rolled back for a conflict
);
# With one database an insert that failed has nowhere else to go: the
# client is refused (and, when the commit's answer was lost, the job may be
# stored all the same).
my @one_db = ('1,insert', '2,insert,after', '1,commit,after',
    '4,after,random');

# GV_FAULT_SPECS=A;B (say '4,after,random one db') runs just those.
my %only = map { $_ => 1 } split(/;/, $ENV{GV_FAULT_SPECS} // '');

my $spec_n = 0;
sub run_spec {
	my ($spec, $what) = @_;
	return if %only && !$only{"$spec$what"};
	my $trace = $t->dir . "/trace." . ++$spec_n;
	my $env = { GV_FAULT_DB => $spec, GV_FAULT_TRACE => $trace };
	my $t0 = time;
	$c->start_master(env => $env);
	# Nothing updates a row when nothing fails but a Controller
	# extending the lease of a job slower than half of it: for an update
	# fault, low-latency jobs of 1.5 s with a 2 s lease, one per consumer
	# at a time.
	my %slow = (consumers => 4, per_round => 4,
	    consumer_args => ['-s', 1.5]);
	my @loads = map {
		$c->begin_load("fault $spec$what", $_, env => $env,
		    consumer_env => $env, max_rounds => 3, pause => 0,
		    $spec =~ /update/ && $_ eq 'latency' ? %slow
		    : (per_round => 30))
	} qw(throughput latency);
	# A claim is four calls and a run three: with one call in four
	# failing, and backoffs growing, a job may need many rounds.
	$c->finish_load($_, drain => 120, may_ack_none => 1) for @loads;
	is($c->stop_master, 0, "fault $spec$what: the master stops "
	    . 'gracefully');
	note(sprintf('fault %s%s: %.1f s', $spec, $what, time - $t0));
	injected_as_named($spec, $what, $trace);
}

# Each fault injected (GV_FAULT_TRACE: "PID TID KIND MODE") is one the spec
# names: its kind of call, and lost after the server did it ("after", but
# never for a connect or a fetch), rolled back ("deadlock") or before.
# With the state shared between threads, an "after" armed by one thread's
# call could be taken by another thread's call of another kind.
sub injected_as_named {
	my ($spec, $what, $trace) = @_;
	my ($n, @opts) = split /,/, $spec;
	my %o = map { $_ => 1 } @opts;
	my ($kind) = grep { !/^(after|random|deadlock)$/ } @opts;
	open(my $fh, '<', $trace) or return fail("fault $spec$what: "
	    . 'no fault injected');
	my @bad;
	my $lines = 0;
	while (my $line = <$fh>) {
		$lines++;
		my (undef, undef, $k, $mode) = split ' ', $line;
		my $want = $k =~ /^(connect|fetch)$/ ? 'before'
		    : $o{after} ? 'after' : $o{deadlock} ? 'deadlock' : 'before';
		push @bad, $line if ($kind ? $k ne $kind : $k eq 'fetch')
		    || $mode ne $want;
	}
	close $fh;
	ok($lines > 0 && !@bad, "fault $spec$what: $lines faults injected, "
	    . 'each as named') or diag(@bad[0 .. ($#bad < 4 ? $#bad : 4)]);
}
run_spec($_, '') for @specs;
$c->rewrite_ini('db.2' => undef);
run_spec($_, ' one db') for @one_db;

# Proof that the faults hit: the errors they caused, as the processes
# reported them (a fault the code absorbs, a statement outside a
# transaction retried on a new connection, leaves no trace).
my $traces = 0;
for my $f (glob($t->dir . '/*.out'), $t->log_path) {
	open(my $fh, '<', $f) or next;
	$traces += grep { /fault injected by GV_FAULT_DB/ } <$fh>;
	close $fh;
}
cmp_ok($traces, '>=', %only ? 1 : scalar(@specs), "$traces errors caused "
    . 'by the faults were reported');
done_testing();
