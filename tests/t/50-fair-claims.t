#!/usr/bin/perl
# Fair claims: no function's backlog holds up another function's due jobs,
# whether the backlog is over its watermark with no worker, or just large
# and older than everything else.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 1);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 60,
    'queue_runner.queue_watermark_depth' => 50,
    'queue_runner.batch_max_size' => 100);
my $runner = $t->spawn($t->build_path('garivini'), '--role', 'queue_runner',
    '-c', $ini);

sub inject {
	my ($func, $n) = @_;
	$t->gv_inject_ok($ini, "$n jobs of $func inserted", func => $func,
	    n => $n, arg => "$func {n}");
}

# Make a function's rows the oldest due rows of the table, as a backlog
# that built up while nothing ran.
sub backdate {
	my ($func) = @_;
	$t->dbh(1)->do('UPDATE job SET run_after = run_after - 3600 WHERE '
	    . 'funcname = ? AND leased = 0', undef, $func);
}

sub lines {
	my ($path) = @_;
	open(my $fh, '<', $path) or return 0;
	my @l = <$fh>;
	return scalar(@l);
}

sub consumer {
	my ($func) = @_;
	my $out = $t->dir . "/$func.txt";
	my $pid = $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f',
	    $func, '-o', $out);
	return ($pid, $out);
}

# 1. Thousands of old rows of a function with no worker, over its
# watermark; then a hundred of a function with a live worker.
inject('nobody', 3000);
backdate('nobody');
ok($t->wait_for('gearmand to hold nobody up to its watermark', 20, sub {
	my $s = $t->gearman_status(1)->{nobody};
	$s && $s->{total} >= 50 }), 'nobody is at its watermark');
my ($live, $live_out) = consumer('live');
inject('live', 100);
ok($t->wait_for('the jobs of live to run', 20,
    sub { lines($live_out) >= 100 }), 'a function over its watermark with '
    . 'no worker holds up no other function');
cmp_ok($t->gearman_status(1)->{nobody}{total}, '<=', 50,
    'nobody stays at its watermark in gearmand');
is($t->count(1, 'funcname = ?', 'nobody'), 3000,
    'and its rows wait in the table');

# 2. A large backlog that is older than every other job, with a worker,
# and nine functions with a few jobs each: every function is served in
# every claim, so the small ones finish long before the large one.
my %out;
my @pids = ($live);
for my $f ('big', map { "small$_" } 1 .. 9) {
	my ($pid, $out) = consumer($f);
	push @pids, $pid;
	$out{$f} = $out;
}
$t->stop($runner, 'TERM', 10);
inject('big', 20000);
backdate('big');
inject("small$_", 30) for 1 .. 9;
$runner = $t->spawn($t->build_path('garivini'), '--role', 'queue_runner',
    '-c', $ini);
ok($t->wait_for('every small function to finish', 60, sub {
	!grep { lines($out{"small$_"}) < 30 } 1 .. 9 }),
    'nine small functions finished');
my $big_left = $t->count(1, 'funcname = ?', 'big');
cmp_ok($big_left, '>=', 10000, "while big still had $big_left of its 20000 "
    . 'rows (claims shared among the functions)');
ok($t->wait_for('big to drain', 120,
    sub { $t->count(1, 'funcname = ?', 'big') == 0 }), 'big drained');

# Each job ran once.
for my $f (sort keys %out) {
	my %seen;
	open(my $fh, '<', $out{$f}) or die "$out{$f}: $!";
	while (<$fh>) { my (undef, $jobid) = split /\t/; $seen{$jobid}++ }
	my $want = $f eq 'big' ? 20000 : 30;
	is(scalar(keys %seen), $want, "$f: each job ran")
	    if $f eq 'big' || $f eq 'small1' || $f eq 'small9';
	is(scalar(grep { $_ > 1 } values %seen), 0, "$f: none twice");
}

# A table made by an earlier version, without the func_due index: the
# QueueRunner says what to do, and claims still work.
$t->stop($runner, 'TERM', 10);
$t->dbh(1)->do('ALTER TABLE job DROP INDEX func_due');
$runner = $t->spawn($t->build_path('garivini'), '--role', 'queue_runner',
    '-c', $ini);
inject('small1', 10);
ok($t->wait_for('the small1 jobs to run', 30,
    sub { lines($out{small1}) >= 40 }), 'claims work without the index');
like(_slurp($t->log_path), qr/no func_due index.*ADD INDEX func_due/,
    'and the QueueRunner says how to add it');
$t->stop($_, 'TERM', 10) for @pids, $runner;
done_testing();

sub _slurp {
	my ($path) = @_;
	open(my $fh, '<', $path) or return '';
	local $/;
	return <$fh>;
}
