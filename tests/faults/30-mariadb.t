#!/usr/bin/perl
# MariaDB goes away mid-run, both modes: a clean restart (TERM), then a
# SIGKILL and a restart (InnoDB crash recovery). Inserts in flight fail and
# are not acknowledged, claims and completions in flight are lost with their
# transactions; every acknowledged job still runs.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use GvChaos;

my $c = GvChaos->new(own_mariadb => 1);
my $t = $c->t;
my $master = $c->start_master;

for my $how (qw(TERM KILL)) {
	my $name = $how eq 'TERM' ? 'mariadb-restart' : 'mariadb-kill';
	for my $mode (qw(throughput latency)) {
		$c->scenario($name, $mode, sub {
			my $code = $t->stop_mariadb($how);
			is($code, $how eq 'TERM' ? 0 : 128 + 9,
			    "$name/$mode: mariadbd stopped by $how");
			sleep 1;
			$t->start_mariadb;
		});
	}
}
ok($t->running($master), 'the master never noticed');
is($c->stop_master, 0, 'the master stops gracefully');
done_testing();
