#!/usr/bin/perl
# Two databases on two MariaDB servers, and one of them stopped (SIGSTOP) for
# three leases while slow jobs of both are in flight, low latency under load
# (issue 27, defect 3). The jobs take longer than a lease: each is kept by
# its lease extensions. The Controllers must go on with the healthy
# database's jobs as if nothing happened: lost 0, and no job of the healthy
# database runs twice (the stopped database's jobs may: their leases end
# while it is stopped). tests/t/18-controller-dead-db.t shows the same on
# one Controller, exactly.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use GvChaos;

my $t2 = GvTest->new(dbs => 1, own_mariadb => 1, gearmands => 0,
    name => 'one-db-stopped-2');
my $c = GvChaos->new(dbs => 1, ini => {
	'db.2.host' => $t2->db_host, 'db.2.port' => $t2->db_port,
	'db.2.database' => $t2->db_name(1), 'db.2.user' => $t2->db_user,
	'db.2.password' => $t2->db_password },
    rows_elsewhere => sub { $t2->count(1, 'funcname = ?', $_[0]) });
my $t = $c->t;
chmod 0600, $c->ini;
my $master = $c->start_master;
my $stop_for = 3 * $c->lease;

my $r = $c->scenario('one-db-stopped', 'latency', sub {
	ok(kill('STOP', $t2->mariadb_pid), 'database 2 stopped');
	sleep $stop_for;
	ok(kill('CONT', $t2->mariadb_pid), 'database 2 continued');
}, consumers => 16, consumer_args => ['-s', $c->lease + 1], per_round => 2,
    pause => 0.5, drain => 180);

# Duplicates by database: the consumers write each run's dbid.
my (%n, %dups);
$n{"$_->{dbid}\t$_->{arg}"}++
    for @{ $t->consume_runs($t->dir . '/chaos_one_db_stopped_latency.ran') };
$dups{ (split /\t/)[0] }++ for grep { $n{$_} > 1 } keys %n;
my $line = sprintf('one-db-stopped/latency: duplicates of the healthy '
    . 'database %d, of the stopped one %d', $dups{1} // 0, $dups{2} // 0);
diag($line);
cmp_ok(scalar(grep { /^1\t/ } keys %n), '>', 0,
    'jobs of the healthy database ran');
cmp_ok(scalar(grep { /^2\t/ } keys %n), '>', 0,
    'jobs of the stopped database ran');
is($dups{1} // 0, 0, 'no job of the healthy database ran twice');

ok($t->running($master), 'the master never noticed');
is($c->stop_master, 0, 'the master stops gracefully');
done_testing();
