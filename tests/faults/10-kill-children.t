#!/usr/bin/perl
# The master under load in both modes, and first a run where nothing breaks:
# every job runs once (duplicates come only from faults). Then SIGKILL of
# random children, again and again: every acknowledged job still runs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use GvChaos;

my $c = GvChaos->new;
$c->start_master;

for my $mode (qw(throughput latency)) {
	$c->scenario('baseline', $mode, undef, max_duplicates => 0);
}
for my $mode (qw(throughput latency)) {
	my $killed;
	$c->scenario('kill-children', $mode, sub {
		$killed = $_[0]->kill_children(6, 0.3);
		$_[0]->wait_pools_full(40);
	});
	cmp_ok($killed, '>=', 10, "kill-children/$mode: $killed children "
	    . 'killed');
}
is($c->stop_master, 0, 'the master stops gracefully');
done_testing();
