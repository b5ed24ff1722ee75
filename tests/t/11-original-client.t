#!/usr/bin/perl
# Rows written with the original Perl Garivini::Client's SQL run, and a Perl
# Gearman::Worker written against the original (decode the JSON, use arg,
# DELETE FROM job WHERE jobid=? in database dbid) completes them.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 2);
my $ini = $t->write_ini();
my $n = 50;

# The original client's insert_job statement, with its bind values. Its
# run_after was the text "UNIX_TIMESTAMP() + 0" (a defect: INSERT IGNORE
# stores 0, which is due at once); half the rows get a real time instead.
for my $i (0 .. $n - 1) {
	my $dbid = 1 + $i % 2;
	$t->dbh($dbid)->do('INSERT IGNORE INTO job (funcname, run_after, '
	    . 'uniqkey, coalesce, arg, flag) VALUES (?, ?, ?, ?, ?, ?)', undef,
	    'legacy', ($i % 4 < 2 ? 'UNIX_TIMESTAMP() + 0' : time()), undef,
	    undef, "legacy $i", undef);
}
is($t->count(1) + $t->count(2), $n, 'rows stored by the original SQL');

my $done = $t->dir . '/legacy.txt';
my $script = $t->dir . '/legacy-worker.pl';
open(my $fh, '>', $script) or die;
print $fh <<'PERL';
use strict;
use warnings;
use DBI;
use Gearman::Worker;
use JSON;
my ($servers, $done, @dsn) = @ARGV;
my %dbh;
while (my ($id, $dsn, $user, $pass) = splice(@dsn, 0, 4)) {
    $dbh{$id} = DBI->connect($dsn, $user, $pass, { RaiseError => 1 });
}
my $w = Gearman::Worker->new(job_servers => [split /,/, $servers]);
$w->register_function(legacy => sub {
    my $job = decode_json(${ $_[0]->argref });
    open(my $out, '>>', $done) or die;
    print $out "$job->{dbid}:$job->{jobid}:$job->{arg}\n";
    close $out;
    $dbh{ $job->{dbid} }->do('DELETE FROM job WHERE jobid=?', undef,
        $job->{jobid});
    return 1;
});
$w->work while 1;
PERL
close $fh;
my @dsn = map { ($_, GvTest::_dsn(host => '127.0.0.1', port => $t->db_port,
    database => $t->db_name($_)), 'garivini', 'garivini') } 1 .. 2;
my $worker = $t->spawn('perl', $script, $t->gearman_servers, $done, @dsn);
my $runner = $t->spawn($t->build_path('garivini'), '--role', 'queue_runner',
    '-c', $ini);

ok($t->wait_for('the legacy rows to run', 60,
    sub { $t->count(1) + $t->count(2) == 0 }), 'the table ends empty');
$t->stop($runner, 'TERM', 10);
$t->stop($worker, 'TERM', 10);
open($fh, '<', $done) or die;
my %seen;
$seen{(split /:/, $_, 3)[2]}++ while <$fh>;
close $fh;
is(scalar(keys %seen), $n, 'every legacy job ran');
is(scalar(grep { $_ > 1 } values %seen), 0, 'none twice');

done_testing();
