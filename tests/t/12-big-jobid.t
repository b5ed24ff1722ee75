#!/usr/bin/perl
# Jobids above 2^63-1 (the jobid column is BIGINT UNSIGNED): jansson, and
# so gv_job_parse and the Controller, refuse a JSON integer that large, and
# such a job was sent again every lease, forever. They run, once each, in
# both modes: inserted through libgarivini, through inject_jobs, with the
# original client's SQL and as a controller row a QueueRunner dispatches;
# worked by gv_consume in both modes and by a Perl worker written for the
# original (decode_json, DELETE FROM job WHERE jobid=?).
use strict;
use warnings;
use Test::More;
use JSON::PP;
use GvTest;

my $t = GvTest->new(dbs => 1);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 3);
my $dbh = $t->dbh(1);
my $first = '9223372036854775813';      # 2^63 + 5
$dbh->do("ALTER TABLE job AUTO_INCREMENT = $first");

my $dir = $t->dir;
my $script = "$dir/perl-worker.pl";
open(my $fh, '>', $script) or die;
print $fh <<'PERL';
use strict;
use warnings;
use DBI;
use Gearman::Worker;
use JSON::PP;
my ($servers, $done, $dsn) = @ARGV;
my $dbh = DBI->connect($dsn, 'garivini', 'garivini', { RaiseError => 1 });
my $w = Gearman::Worker->new(job_servers => [split /,/, $servers]);
$w->register_function(big_perl => sub {
    my $job = decode_json(${ $_[0]->argref });
    open(my $out, '>>', $done) or die;
    print $out "$job->{jobid}\n";
    close $out;
    $dbh->do('DELETE FROM job WHERE jobid=?', undef, $job->{jobid});
    return 1;
});
$w->work while 1;
PERL
close $fh;

my %ran = map { $_ => "$dir/ran-$_.txt" } qw(big_t big_l big_perl);
my @workers = (
	$t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f', 'big_t',
	    '-o', $ran{big_t}),
	$t->spawn($t->build_path('gv_consume'), '-c', $ini, '-m', 'latency',
	    '-f', 'big_l', '-o', $ran{big_l}),
	$t->spawn('perl', $script, $t->gearman_servers, $ran{big_perl},
	    GvTest::_dsn(host => '127.0.0.1', port => $t->db_port,
	    database => $t->db_name(1))),
);
my $master = $t->spawn($t->build_path('garivini'), '-c', $ini);
ok($t->wait_for('the master to run', 20, sub {
	my $st = $t->status_json;
	$st && $st->{master}{pid} == $master && $st->{master}{state} eq 'running'
}), 'the master runs');

my ($code, $out, $err) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-f', 'big_t', '-a', 'through libgarivini');
is($code, 0, 'a job inserted through libgarivini') or diag($err);
($code, $out, $err) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-m', 'latency', '-f', 'big_l', '-a', 'through inject_jobs');
is($code, 0, 'a job injected') or diag($err);
my $reply = eval { JSON::PP->new->decode($out) } // {};
is($reply->{jobid}, '9223372036854775814',
    'inject_jobs answers with its jobid, 2^63 + 6');
my $perl_id = $t->insert_job(1, funcname => 'big_perl', arg => 'original');
is($perl_id, '9223372036854775815', 'a row by the original SQL');
$dbh->do(q{INSERT INTO job (funcname, arg, run_after, flag)
    VALUES ('big_l', 'a controller row', UNIX_TIMESTAMP(), 'controller')});
my %want = (
	big_t => ['9223372036854775813'],
	big_l => ['9223372036854775814', '9223372036854775816'],
	big_perl => ['9223372036854775815'],
);

# Once the rows are gone nothing can send them again: the table is what
# QueueRunners and the Controller send from.
ok($t->wait_for('every row to complete', 60, sub { $t->count(1) == 0 }),
    'every job completed: none is sent again lease after lease');
is($t->stop($master, 'TERM', 20), 0, 'the master stops');
$t->stop($_, 'TERM', 10) for @workers;

for my $func (sort keys %want) {
	my @ids;
	if (open(my $in, '<', $ran{$func})) {
		@ids = map { chomp; (split /\t/)[$func eq 'big_perl' ? 0 : 1] }
		    <$in>;
		close $in;
	}
	is_deeply([sort @ids], $want{$func},
	    "$func: each job ran once, with its exact jobid");
}
open(my $log, '<', $t->log_path) or die;
my @refused = grep { /refused|empty funcname|parked/ } <$log>;
close $log;
is_deeply(\@refused, [], 'nothing refused or parked');

done_testing();
