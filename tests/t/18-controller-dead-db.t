#!/usr/bin/perl
# One Controller, two databases on two MariaDB servers, and one of them
# stopped (SIGSTOP) for longer than a lease while slow jobs of both are in
# flight (issue 27, defect 3). The healthy database's jobs must go on as if
# nothing happened: those in flight extend their leases and complete, new
# ones are taken and completed, all while the other database is stopped, and
# none runs twice. Once the stopped database continues, its jobs complete
# too: none is lost (they may run twice: their leases ended meanwhile).
#
# A QueueRunner per database (an INI each), so that the one of the stopped
# database does not hold up the other's: it is the healthy database's
# QueueRunner that sends a job again when its lease ends, which is how a
# stalled Controller makes it run twice.
use strict;
use warnings;
use Test::More;
use GvTest;

my $lease = 6;
my $work = 8;        # seconds a job takes: more than a lease
my $per_db = 6;      # jobs of each database in the first wave
my $t = GvTest->new(dbs => 1, own_mariadb => 1);
my $t2 = GvTest->new(dbs => 1, own_mariadb => 1, gearmands => 0,
    name => 'controller-dead-db-2');

my %common = ('queue_runner.lease_seconds' => $lease,
    'queue_runner.batch_run_sleep' => 0.1,
    'controller.job_timeout' => 60);
my %db2 = ('db.2.host' => $t2->db_host, 'db.2.port' => $t2->db_port,
    'db.2.database' => $t2->db_name(1), 'db.2.user' => $t2->db_user,
    'db.2.password' => $t2->db_password);
my $both = $t->write_ini(%common, %db2);
my $only1 = $t->write_ini(%common, file => 'db1.ini');
my $only2 = $t->write_ini(%common, %db2, file => 'db2.ini', 'db.1' => undef);

my @roles = (
	$t->spawn($t->build_path('garivini'), '--role', 'controller', '-c',
	    $both),
	$t->spawn($t->build_path('garivini'), '--role', 'queue_runner', '-c',
	    $only1),
	$t->spawn($t->build_path('garivini'), '--role', 'queue_runner', '-c',
	    $only2),
);
ok($t->wait_for_log(qr/serving run_queued_job/, 20), 'the Controller serves');
my $ran = $t->dir . '/slow.txt';
my @workers = map {
	$t->spawn($t->build_path('gv_consume'), '-c', $only1, '-f', 'slow',
	    '-m', 'latency', '-s', $work, '-o', $ran)
} 1 .. 2 * $per_db + 4;

sub runs { @{ $t->consume_runs($ran) } }

sub rows {
	my ($which) = @_;
	return ($which == 1 ? $t : $t2)->count(1, 'funcname = ?', 'slow');
}

sub insert {
	my ($which, $tag, $n) = @_;
	($which == 1 ? $t : $t2)->insert_job(1, funcname => 'slow',
	    arg => "$tag-$_", flag => 1) for 1 .. $n;
}

insert(1, 'first', $per_db);
insert(2, 'first', $per_db);
ok($t->wait_for('every job of both databases to start', 30,
    sub { runs() >= 2 * $per_db }), 'jobs of both databases in flight');

ok(kill('STOP', $t2->mariadb_pid), 'the second database stopped');
# New jobs of the healthy database, taken while the other is stopped.
insert(1, 'second', 4);
my $healthy = $t->wait_for('the healthy database\'s jobs to complete',
    4 * $work + 3 * $lease, sub { rows(1) == 0 });
ok($healthy, 'the healthy database\'s jobs completed while the other '
    . 'was stopped');
ok(kill('CONT', $t2->mariadb_pid), 'the second database continued');

ok($t->wait_for('the second database\'s jobs to complete', 180,
    sub { rows(2) == 0 }), 'the second database\'s jobs completed too');

my %n;
$n{"$_->{dbid}/$_->{arg}"}++ for runs();
my @twice = grep { m{^1/} && $n{$_} > 1 } sort keys %n;
is(scalar(grep { m{^1/} } keys %n), $per_db + 4,
    'every job of the healthy database ran');
is(scalar(@twice), 0, 'none of them twice') or diag("twice: @twice");
is(scalar(grep { m{^2/} } keys %n), $per_db,
    'every job of the stopped database ran: none lost');
my ($extended) = grep { /extending its lease/ && /db 1:/ }
    do { open(my $fh, '<', $t->log_path); <$fh> };
ok(!defined $extended, 'every lease extension of the healthy database '
    . 'succeeded') or diag($extended);

ok($t->running($_), 'a role lived through it') for @roles;
$t->stop($_, 'TERM', 30) for @roles;
$t->stop($_, 'TERM', 10) for @workers;
done_testing();
