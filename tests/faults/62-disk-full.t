#!/usr/bin/perl
# The database's disk full: the job table lives on a small tmpfs (InnoDB's
# DATA DIRECTORY), filled with parked rows until InnoDB refuses to grow it.
# While it is full, inserts and inject_jobs are refused with a clear error and
# nothing is acknowledged that was not stored; the master and its pools stay
# up. Then the disk gets room again (the tmpfs is grown, as an operator
# would free space) and the engine goes on by itself: every acknowledged job
# runs, in both modes.
#
# Rows are filled at most 4,000 bytes at a time: MariaDB 10.11 aborts
# ("[FATAL] InnoDB: Error (Out of disk space) in rollback", signal 6) when
# an insert of a large off-page BLOB fails for space and its rollback needs
# space too. That outage is the MariaDB-kill scenario of 30-mariadb.t; this
# one is the disk that refuses and the server that stays up.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
use GvChaos;

my $c = GvChaos->new(dbs => 1, own_mariadb => 1);
my $t = $c->t;
my $mnt = $t->dir . '/disk';
my $mounted;
END { system('umount', '-l', $mnt) if $mounted }

mkdir($mnt) or die "$mnt: $!";
is(system('mount', '-t', 'tmpfs', '-o', 'size=6m,mode=0777', 'tmpfs',
    $mnt), 0, 'a 6 MB tmpfs for the job table') or BAIL_OUT('cannot mount');
$mounted = 1;

# The job table of schema.sql, moved onto the small disk.
my $dbh = $t->dbh(1);
open(my $fh, '<', $t->schema_path) or die $t->schema_path . ": $!";
my $schema = join('', grep { !/^\s*--/ } <$fh>);
close $fh;
my ($create) = grep { /CREATE TABLE/ } split(/;\s*(?:\n|$)/, $schema);
$dbh->do('DROP TABLE job');
$dbh->do("$create DATA DIRECTORY = '$mnt'");

$c->start_master;

# Fill it with parked rows of a function nobody serves.
# InnoDB refuses one size, then finds room for smaller rows on pages it
# has: go on with smaller rows until none fits.
my ($filled, $full_error, $refusals) = (0, '', 0);
for my $size (4000, 1000, 100) {
	while ($refusals < 5000) {
		my $ok = eval {
			$dbh->do("INSERT INTO job (funcname, arg, run_after) "
			    . "VALUES ('filler', REPEAT('x', $size), "
			    . "2147483647)");
		};
		if ($ok) {
			$filled++;
			next;
		}
		$full_error = $dbh->errstr // $@;
		$refusals++;
		last;
	}
}
like($full_error, qr/is full/, "the disk is full after $filled rows")
    or BAIL_OUT("filling: $full_error");

# Refused, clearly, in both modes; nothing stored.
my ($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c', $c->ini,
    '-f', 'refused', '-a', 'x' x 4000);
isnt($code, 0, 'gv_inject is refused while the disk is full');
like($err, qr/is full/, 'and says the table is full');
($code, my $out, $err) = $t->run($t->build_path('gv_inject'), '-c',
    $c->ini, '-m', 'latency', '-f', 'refused', '-a', 'x' x 4000);
isnt($code, 0, 'inject_jobs is refused while the disk is full');
like("$out$err", qr/is full/, 'and the Injector says why');
is($t->count(1, 'funcname = ?', 'refused'), 0, 'nothing refused was stored');

# Load in both modes, starting while the disk is still full.
my @loads = map {
	$c->begin_load('disk-full', $_, per_round => 20, pause => 0.2)
} qw(throughput latency);
sleep 2;
is(system('mount', '-o', 'remount,size=64m', $mnt), 0,
    'the disk gets room again');
$t->wait_for('jobs acknowledged once there is room', 60, sub {
	my $n = 0;
	for my $l (@loads) {
		open(my $a, '<', $l->{acks}) or return 0;
		my @l = <$a>;
		$n++ if @l >= 20;
	}
	$n == @loads;
});
$c->finish_load($_, drain => 90) for @loads;
ok($c->master && $t->running($c->master), 'the master lived through it');
is($c->stop_master, 0, 'and stops gracefully');
is($t->count(1, 'funcname = ?', 'filler'), $filled, 'the parked rows are '
    . 'still there');
$t->stop_mariadb;
done_testing();
