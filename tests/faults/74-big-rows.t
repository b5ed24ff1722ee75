#!/usr/bin/perl
# Rows with args at the 16 MB limit in a batch, both modes, and the
# QueueRunners killed while such a batch is out. A claim used to read every
# arg of its batch: the rows came back after a crash and were read whole
# again. Claims now stop at batch_max_bytes, the rows run in small batches,
# the QueueRunners' memory stays within a few budgets, and after the kill the
# leased rows come back and run: nothing is lost.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use GvChaos;

my $row_bytes = 16_000_000;
my $budget = 2 * $row_bytes;
# gearmand 1.1.20 takes about 10 s to receive a 16 MB job: the lease must
# outlast a claim's submissions, or the rows would go out twice.
my $c = GvChaos->new(dbs => 1, ini => {
	'queue_runner.lease_seconds' => 60, 'controller.job_timeout' => 120,
	'queue_runner.batch_max_bytes' => $budget });
my $t = $c->t;
my $dir = $t->dir;
my $n = 4;              # per mode

my %func = (throughput => 'big_rows_t', latency => 'big_rows_l');
my %ran = map { $_ => "$dir/$func{$_}.ran" } keys %func;
for my $mode (sort keys %func) {
	$c->start_consumers($mode, $func{$mode}, $ran{$mode}, n => 1);
	for my $i (1 .. $n) {
		$t->insert_job(1, funcname => $func{$mode},
		    flag => $mode eq 'latency' ? 'controller' : 'shim',
		    arg => sprintf('%s %03d ', $mode, $i)
		    . ('x' x ($row_bytes - length($mode) - 5)));
	}
}
is($t->count(1), 2 * $n, 2 * $n . " rows of $row_bytes bytes stored "
    . '(acknowledged)');
my $master = $c->start_master;

# The jobs gv_consume started, by the number and length of their args.
sub runs {
	my ($file) = @_;
	my %k;
	$k{ (split / /, $_->{arg}, 3)[1] . ' ' . length($_->{arg}) }++
	    for @{ $t->consume_runs($file) };
	return \%k;
}

# The fault: every QueueRunner killed once the first big job has run, with
# more of them leased and on their way.
ok($t->wait_for('a first big job to run', 120, sub {
	scalar(keys %{ runs($ran{throughput}) }) +
	    scalar(keys %{ runs($ran{latency}) }) > 0 }),
    'big jobs run');
my @killed = $c->pool_pids('queue_runner');
kill 'KILL', @killed;
ok($t->wait_for('new QueueRunners', 30, sub {
	my @now = $c->pool_pids('queue_runner');
	@now == @killed && !grep { my $p = $_; grep { $_ == $p } @killed } @now
}), 'the QueueRunners, killed, are replaced');

ok($t->wait_for('every big row to go', 400, sub { $t->count(1) == 0 }),
    'every row is gone');
my $bound = 4 * $budget / (1 << 20) + 64;
for my $pid ($c->pool_pids('queue_runner')) {
	open(my $st, '<', "/proc/$pid/status") or next;
	my ($kb) = map { /^VmHWM:\s+(\d+) kB/ ? $1 : () } <$st>;
	close $st;
	cmp_ok($kb / 1024, '<', $bound, sprintf('QueueRunner %d peaked at '
	    . '%.0f MiB, under %d MiB', $pid, $kb / 1024, $bound));
}
for my $mode (sort keys %func) {
	my $runs = runs($ran{$mode});
	my @want = map { sprintf('%03d %d', $_, $row_bytes) } 1 .. $n;
	my @lost = grep { !$runs->{$_} } @want;
	my $dups = grep { ($runs->{$_} // 0) > 1 } @want;
	my $line = sprintf('big-rows/%s: acknowledged %d, completed %d, '
	    . 'lost %d, duplicates %d', $mode, $n, $n - @lost, scalar(@lost),
	    $dups);
	diag($line);
	is(scalar(@lost), 0, "big-rows/$mode: no acknowledged job lost")
	    or diag("lost: @lost");
	is(scalar(keys %$runs), $n, "big-rows/$mode: every arg arrived whole");
}
is($c->stop_master, 0, 'the master stops gracefully');
done_testing();
