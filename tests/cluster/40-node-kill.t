#!/usr/bin/perl
# A Galera node killed under two gv_inject writers (issue 27, defect 8).
# Three nodes, [db.1] naming all three; writer A's INI lists node 1 first,
# writer B's node 2, each inserting 10,000 jobs in batches of 1,000. Node 1
# is SIGKILLed once A has stored a batch and before it is done. Before the
# fix, A's batch met "Lost connection to server during query" on its INSERT,
# A stopped there, and the jobs of its later batches were never inserted.
#
# Now: each writer finishes its run (exit 0, or 2 when a batch's fate is
# unknown: its COMMIT was sent when the node died); every batch is stored or
# reported "fate unknown"; every job of a stored batch runs. The test reads
# through node 2, which stays up; node 1 rejoins before the reckoning.
#
#   node-kill/throughput: acknowledged A, completed C, lost L, duplicates D;
#   unknown U (of which R ran)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib", "$FindBin::Bin/../faults/lib";
use Test::More;
use GvGalera;

my $N = 10000;
my $g = GvGalera->new(nodes => 3);
is($g->cluster_size(2), 3, 'three nodes synced');
$ENV{GV_TEST_MYSQL} = $g->gv_test_mysql(2);
require GvChaos;
my $c = GvChaos->new(dbs => 1, ini => {
	'db.1.host' => $g->host_list(1, 2, 3),
	'db.1.user' => $GvGalera::USER, 'db.1.password' => $GvGalera::PASSWORD,
});
my $t = $c->t;
my $dir = $t->dir;
my $ini_b = $c->rewrite_ini(file => 'b.ini',
    'db.1.host' => $g->host_list(2, 1, 3));
$c->start_master;

my $func = 'node_kill';
my $ran = "$dir/$func.ran";
my @consumers = $c->start_consumers('throughput', $func, $ran, n => 3);
my %writer;
for ([A => $c->ini], [B => $ini_b]) {
	my ($w, $ini) = @$_;
	$writer{$w} = $t->spawn({ name => "insert-$w" },
	    $t->build_path('gv_inject'), '-c', $ini, '-f', $func, '-n', $N,
	    '-b', 1000, '-a', "$w-{n}");
}
# As soon as A committed a batch: its rows, read through node 2 (the
# consumers may have run them already: their runs count too).
my $at_kill = 0;
$t->wait_for('writer A to commit a batch', 120, sub {
	$at_kill = $t->count(1, "funcname = ? AND arg LIKE 'A-%'", $func) +
	    grep { /^A-/ } keys %{ GvChaos::runs($ran) };
	$at_kill > 0;
});
my $writing = $t->running($writer{A});
$g->kill_node(1);
diag("node 1 killed once writer A had committed (rows and runs: "
    . "$at_kill)");
ok($writing, 'node 1 was killed while writer A was writing');

my (%unknown, %code);
for my $w (sort keys %writer) {
	$code{$w} = $t->wait_exit($writer{$w}, 600);
	my $out = $t->spawn_out($writer{$w});
	open(my $fh, '<', $out) or die "$out: $!";
	my @lines = <$fh>;
	close $fh;
	my @unknown = grep { /fate unknown \(lost connection/ } @lines;
	my @failed = grep { /^gv_inject: / && !/fate unknown/ } @lines;
	for (@unknown) {
		$unknown{"$w-$_"} = 1 for /jobs (\d+)\.\.(\d+)/ ? $1 .. $2 : ();
	}
	ok(defined $code{$w} && ($code{$w} == 0 || $code{$w} == 2),
	    "writer $w finished its run (exit " . ($code{$w} // 'none')
	    . ')') or diag(@lines);
	is(scalar(@failed), 0, "writer $w: every batch stored or of unknown "
	    . 'fate') or diag(@failed);
	is(!!@unknown, $code{$w} && $code{$w} == 2 ? 1 : '',
	    "writer $w: exit 2 exactly when a batch is of unknown fate");
	diag("writer $w: $_") for @unknown;
	my ($inserted) = map { /^inserted (\d+) of/ ? $1 : () } @lines;
	is(($inserted // 0) + @unknown * 1000, $N, "writer $w: the jobs "
	    . 'inserted and those of unknown fate make the whole run');
}

$g->start_node(1);
$g->wait_synced(1);
$t->wait_for("every $func row to go", 300, sub { $c->rows_left($func) == 0 });
my $runs = GvChaos::runs($ran);
my ($acked, $done, $lost, $dups, $unknown, $unknown_ran) = (0) x 6;
for my $w (sort keys %writer) {
	for my $n (0 .. $N - 1) {
		my $k = $runs->{"$w-$n"} // 0;
		if ($unknown{"$w-$n"}) {
			$unknown++;
			$unknown_ran++ if $k;
			next;
		}
		$acked++;
		$done++ if $k;
		$lost++ if $k == 0;
		$dups++ if $k > 1;
	}
}
diag("node-kill/throughput: acknowledged $acked, completed $done, lost "
    . "$lost, duplicates $dups; unknown $unknown (of which $unknown_ran ran)");
is($lost, 0, 'every job of a stored batch ran');
# Runs twice come from the master's side of the failover (a claim or a
# completion whose node died), not from the writers: a batch is only done
# again when it stored nothing.
kill 'TERM', @consumers;
$t->wait_exit($_, 10) for @consumers;
is($c->stop_master, 0, 'the master stops gracefully');
$t->teardown;
$g->teardown;
done_testing();
