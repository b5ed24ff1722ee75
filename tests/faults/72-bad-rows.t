#!/usr/bin/perl
# Rows in the job table that Garivini did not write, with values it would
# never write: an unknown flag, a NULL arg, an empty or odd funcname, the
# largest attempt and failcount, a 255-byte unique key, a megabyte of binary
# arg. The QueueRunners neither crash nor stall: the row that can never run
# (empty funcname) is parked and logged, every other one runs, and a normal
# job inserted afterwards runs too.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use GvChaos;

my $c = GvChaos->new(dbs => 1, ini => { 'queue_runner.lease_seconds' => 5,
    'queue_runner.processes' => 2 });
my $t = $c->t;
my $dbh = $t->dbh(1);
$c->start_master;
my @runners = sort $c->pool_pids('queue_runner');

my %out;
sub consume {
	my ($mode, $func) = @_;
	my $out = $out{$func} = $t->dir . "/ran-$func.txt";
	$t->spawn($t->build_path('gv_consume'), '-c', $c->ini, '-m', $mode,
	    '-f', $func, '-o', $out);
}
sub runs { @{ $t->consume_runs($out{ $_[0] }) } }
consume('throughput', 'odd');
consume('latency', 'oddc');
sleep 0.5;

# Rows written the way an old or foreign client might. A non-strict session
# lets a value outside the ENUM in (MariaDB stores it as '').
$dbh->do(q{SET SESSION sql_mode = ''});
my $ins = $dbh->prepare(q{INSERT INTO job (funcname, arg, uniqkey,
    run_after, `coalesce`, flag, failcount, attempt)
    VALUES (?, ?, ?, UNIX_TIMESTAMP() + 3600, ?, ?, ?, ?)});
my $blob = join('', map { chr(($_ * 7919) % 256) } 1 .. (1 << 20));
my @rows = (
	# funcname, arg, uniqkey, coalesce, flag, failcount, attempt, label
	[ 'odd', 'unknown flag', undef, undef, 'bogus', 0, 0 ],
	[ 'odd', undef, undef, undef, 'shim', 0, 0, 'null arg' ],
	[ 'odd', 'null flag', undef, undef, undef, 0, 0 ],
	[ 'odd', 'last attempt', undef, undef, 'shim', 0, 4294967295 ],
	[ 'odd', 'most failures', undef, undef, 'shim', 255, 0 ],
	[ 'odd', 'long key', 'k' x 255, 'c' x 255, 'shim', 0, 0 ],
	[ 'odd', $blob, undef, undef, 'shim', 0, 0, 'binary 1 MB' ],
	[ 'oddc', undef, undef, undef, 'controller', 0, 0, 'null arg, controller' ],
	[ 'oddc', 'controller at the last attempt', undef, undef, 'controller',
	    0, 4294967295 ],
	[ '', 'empty funcname', undef, undef, 'shim', 0, 0 ],
);
my %empty_id;
for my $r (@rows) {
	my @v = @$r[0 .. 6];
	$ins->bind_param($_ + 1, $v[$_]) for 0 .. 6;
	$ins->bind_param(2, $v[1], DBI::SQL_BLOB()) if defined $v[1];
	$ins->execute;
	$empty_id{ $dbh->last_insert_id(undef, undef, 'job', 'jobid') } = 1
	    if $v[0] eq '';
}
is($t->count(1, q{flag = ''}), 1, 'the unknown flag is stored as ""');
# All due at once, the oldest possible due time among them.
$dbh->do(q{UPDATE job SET run_after = IF(arg = 'most failures', 0,
    UNIX_TIMESTAMP())});

# Every row but the empty funcname runs.
ok($t->wait_for('the odd rows to run', 60, sub {
	$t->count(1, q{funcname <> ''}) == 0 }), 'every odd row ran and is gone');
my %args = map { ($_->{arg} => $_) } runs('odd'), runs('oddc');
for my $want ('unknown flag', 'null flag', 'last attempt', 'most failures',
    'long key', 'controller at the last attempt') {
	ok($args{$want}, "'$want' ran");
}
ok(exists $args{''}, 'a NULL arg runs as an empty arg');
my ($bin) = grep { length($_->{arg}) >= (1 << 20) } runs('odd');
ok($bin && $bin->{arg} eq $blob, 'the 1 MB binary arg arrived byte-exact');
like($args{'last attempt'}{attempt} // '', qr/^1$/,
    'the attempt after 4294967295 is 1');

# The empty funcname is parked, visibly.
ok($t->wait_for('the empty funcname to be parked', 20, sub {
	$t->count(1, q{funcname = '' AND run_after = 2147483647}) == 1 }),
    'the row with an empty funcname is parked');
ok(scalar($c->log_grep(qr/queue_runner\/\d warn: job (\d+) of database 1 has an empty funcname: parked/)),
    'and the QueueRunner says so');

# Still claiming: a normal job runs.
my ($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c',
    $c->ini, '-f', 'odd', '-a', 'normal after');
is($code, 0, 'a normal job is inserted') or diag($err);
ok($t->wait_for('it to run', 20, sub { grep { $_->{arg} eq 'normal after' }
    runs('odd') }), 'and runs');
is_deeply([sort $c->pool_pids('queue_runner')], \@runners,
    'the same QueueRunners all along');
is($t->status_json->{pools}{queue_runner}{restarts}, 0,
    'no QueueRunner restarted');
is($c->stop_master, 0, 'the master stops gracefully');
done_testing();
