#!/usr/bin/perl
# One Injector handles [injector] concurrency inject_jobs calls at once:
# while the database holds their commits, that many calls are in hand, not
# one, and the rest wait in gearmand. Stopped with calls in hand, it
# finishes them (each answered once its row is stored) and the calls it
# did not take are left to the next Injector: each job stored once.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time sleep);
use GvTest;

my $t = GvTest->new(dbs => 1);
my $ini = $t->write_ini('injector.concurrency' => 4);
sub injector { $t->spawn($t->build_path('garivini'), '--role', 'injector',
    '-c', $ini) }

sub workers {
	my $st = $t->gearman_status;
	return $st->{inject_jobs} ? $st->{inject_jobs}{workers} : 0;
}

# The inserts of the Injector waiting for the lock this test holds.
sub waiting_inserts {
	my $rows = $t->dbh(1)->selectall_arrayref('SELECT info FROM '
	    . 'information_schema.processlist WHERE db = ? AND info LIKE ?',
	    undef, $t->db_name(1), 'INSERT%INTO job%');
	return scalar(@$rows);
}

# Six calls at once, one job each, none with a unique key: a job stored
# twice would show as a seventh row.
sub inject_six {
	return $t->spawn({ name => 'gv_inject' }, $t->build_path('gv_inject'),
	    '-c', $ini, '-m', 'latency', '-f', 'held', '-n', 6,
	    '-a', 'job {n}');
}

my $injector = injector();
ok($t->wait_for('four inject_jobs workers', 20, sub { workers() == 4 }),
    'one Injector registers one worker per call it can hold');

# The job table locked from another session: every INSERT waits.
my $locker = $t->dbh(1)->clone;
$locker->do('LOCK TABLES job WRITE');
my $client = inject_six();
ok($t->wait_for('four inserts waiting', 20, sub { waiting_inserts() == 4 }),
    'four calls in hand at once');
sleep 1;
is(waiting_inserts(), 4, 'and no more than its concurrency');
$locker->do('UNLOCK TABLES');
my $st = $t->wait_exit($client, 30);
is($st, 0, 'all six calls answered');
is($t->count(1, 'funcname = ?', 'held'), 6, 'six rows, each job once');

# Stopped with four calls in hand: it finishes them, and a new Injector
# takes the two it left in gearmand.
$t->dbh(1)->do('DELETE FROM job');
$locker->do('LOCK TABLES job WRITE');
$client = inject_six();
ok($t->wait_for('four inserts waiting', 20, sub { waiting_inserts() == 4 }),
    'four calls in hand again');
kill 'TERM', $injector;
sleep 1;
ok($t->running($injector), 'a stopped Injector waits for its calls in hand');
$locker->do('UNLOCK TABLES');
$st = $t->wait_exit($injector, 20);
is($st, 0, 'then exits');
ok($t->wait_for('four rows', 10,
    sub { $t->count(1, 'funcname = ?', 'held') == 4 }),
    'the four calls in hand were stored');
ok($t->running($client), 'the client still waits for the other two');
$injector = injector();
$st = $t->wait_exit($client, 30);
is($st, 0, 'a new Injector answers the other two');
is($t->count(1, 'funcname = ?', 'held'), 6, 'six rows, each job once');
$t->stop($injector);

done_testing();
