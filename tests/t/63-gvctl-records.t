#!/usr/bin/perl
# gvctl and the records of jobs that ended (job_outcome), on real servers,
# two databases:
# - show of a job completed in low latency by a Perl worker, with its
#   result: printable text as it is, binary escaped as \xHH (byte-exact in
#   --json), and one longer than 65535 bytes, cut and marked;
# - show of a job completed by gv_consume in throughput mode (no result),
#   of a cancelled one (gvctl cancel) and of a deleted one (gvctl delete);
# - show by unique key (-f FUNC -k KEY): the job that lives wins over
#   records, else the newest record in any database;
# - a living job's status as job_status names it (parked, retrying);
# - gvctl delete records each job deleted, with its attempt and failcount,
#   for its function's keep_done, takes its failures with it, leaves a job
#   no longer in the state asked; keep_done = 0 records nothing;
# - show of an id that never existed, an id that ended in both databases,
#   and the usage errors of show.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 2, gearmands => 1);
my $ini = $t->write_ini('queue_runner.batch_run_sleep' => 0.05,
    'function.text.keep_done' => 600, 'function.nokeep.keep_done' => 0);
my $NEVER = 2147483647;
my $KEEP_DONE = 3600;           # GV_KEEP_DONE: [garivini] keep_done unset

# Job ids of database 2 start at 1000, so a bare JOBID names one database.
$t->dbh(2)->do('ALTER TABLE job AUTO_INCREMENT = 1000');

sub gvctl { return $t->gvctl($ini, @_) }
sub gvctl_json { return $t->gvctl_json($ini, @_) }

# The record of a job, as job_outcome holds it (undef: none).
sub record {
	my ($dbid, $jobid) = @_;
	return $t->dbh($dbid)->selectrow_hashref('SELECT outcome, ended, '
	    . 'attempt, failcount, keep_until, keep_until - ended AS kept, '
	    . 'result, result_cut FROM job_outcome WHERE jobid = ?', undef,
	    $jobid);
}

# A row parked (or scheduled in $o{in} seconds), with failcount and attempt.
sub row {
	my ($dbid, $func, %o) = @_;
	my $id = $t->insert_job($dbid, funcname => $func,
	    uniqkey => $o{uniqkey}, arg => $o{arg});
	$t->dbh($dbid)->do('UPDATE job SET run_after = ' . (defined $o{in} ?
	    'UNIX_TIMESTAMP() + ?' : '?') . ', failcount = ?, attempt = ? '
	    . 'WHERE jobid = ?', undef, $o{in} // $NEVER, $o{failcount} // 0,
	    $o{attempt} // 0, $id);
	return $id;
}

my $ISO = qr/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/;

# --- completed in low latency, with a result --------------------------------
my $master = $t->spawn($t->build_path('garivini'), '-c', $ini);
ok($t->wait_for_log(qr/master notice: ready/, 30), 'the master is ready');

my $BINARY = "line\x00two\xff\\ok\n";
my $script = $t->dir . '/answer.pl';
open(my $fh, '>', $script) or die "$script: $!";
print $fh <<'PERL';
use strict;
use warnings;
use Gearman::Worker;
my ($servers) = @ARGV;
my $w = Gearman::Worker->new(job_servers => [split /,/, $servers]);
$w->register_function(text => sub { 'all done: 42' });
$w->register_function(binary => sub { "line\x00two\xff\\ok\n" });
$w->register_function(big => sub { 'y' x 70000 });
$w->work while 1;
PERL
close $fh;
my $worker = $t->spawn('perl', $script, $t->gearman_servers);

my %ll = map { ($_ => $t->inject_job(funcname => $_, arg => '',
    uniqkey => "$_-1")) } qw(text binary big);
for my $f (sort keys %ll) {
	ok($t->wait_for("$f to be done", 30, sub {
		my $r = record($ll{$f}{dbid}, $ll{$f}{jobid});
		$r && $r->{outcome} eq 'done';
	}), "$f: done, recorded");
}
{
	my $id = "$ll{text}{dbid}:$ll{text}{jobid}";
	my ($code, $out, $err) = gvctl('show', $id);
	is($code, 0, 'show of a completed job exits 0') or diag($err);
	like($out, qr/^job\s+\Q$id\E$/m, 'its id');
	like($out, qr/^funcname\s+text$/m, 'its function');
	like($out, qr/^uniqkey\s+text-1$/m, 'its unique key');
	like($out, qr/^status\s+done$/m, 'status done');
	my ($ended) = $out =~ /^ended\s+$ISO \((\d+)\)$/m;
	ok($ended, 'when it ended, as ISO time and unix time') or diag($out);
	# Handed to the Controller when injected, the job was never claimed.
	my $attempt = record($ll{text}{dbid}, $ll{text}{jobid})->{attempt};
	like($out, qr/^attempt\s+$attempt$/m, 'attempt, as its record says');
	like($out, qr/^failcount\s+0$/m, 'failcount');
	my ($until) = $out =~ /^kept_until $ISO \((\d+)\)$/m;
	is(($until // 0) - ($ended // 0), 600,
	    'kept until keep_done of [function.text] after it ended');
	like($out, qr/^result_len 12$/m, 'the result\'s length');
	like($out, qr/^result\s+all done: 42$/m, 'printable text as it is');
	unlike($out, qr/^(?:state|arg|run_after)\s/m,
	    'no line of a row that lives');

	my $doc;
	($code, $doc) = gvctl_json('show', $id);
	is($code, 0, 'show --json exits 0');
	is($doc->{status}, 'done', 'JSON: status');
	is($doc->{jobid}, $ll{text}{jobid}, 'jobid');
	is($doc->{dbid}, $ll{text}{dbid}, 'dbid');
	is($doc->{funcname}, 'text', 'funcname');
	is($doc->{uniqkey}, 'text-1', 'uniqkey');
	is($doc->{ended}, $ended, 'ended, unix time');
	is($doc->{kept_until}, $until, 'kept_until');
	is($doc->{attempt}, $attempt, 'attempt');
	is($doc->{result}, 'all done: 42', 'result');
	ok(!$doc->{result_cut}, 'not cut');

	$id = "$ll{binary}{dbid}:$ll{binary}{jobid}";
	($code, $out) = gvctl('show', $id);
	like($out, qr/^result_len 13$/m, 'binary: its length');
	like($out, qr/^result\s+line\\x00two\\xff\\x5cok\\x0a$/m,
	    'binary: other bytes than printable ASCII as \xHH, as show prints '
	    . 'an arg');
	is(record($ll{binary}{dbid}, $ll{binary}{jobid})->{kept}, $KEEP_DONE,
	    'kept for the default keep_done');
	($code, $doc) = gvctl_json('show', $id);
	is($doc->{result}, $BINARY,
	    'JSON: the result byte-exact, one code point per byte');
	is($doc->{result_len}, length($BINARY), 'JSON: result_len');

	$id = "$ll{big}{dbid}:$ll{big}{jobid}";
	($code, $out) = gvctl('show', $id);
	like($out, qr/^result_len 65535 \(cut: the worker's result was longer\)$/m,
	    'a result over 65535 bytes: cut, and said so');
	my ($shown) = $out =~ /^result\s+(\S*)$/m;
	is($shown, 'y' x 65535, 'the first 65535 bytes');
	($code, $doc) = gvctl_json('show', $id);
	ok($doc->{result_cut}, 'JSON: result_cut');
	is(length($doc->{result} // ''), 65535, 'JSON: 65535 bytes');
}
$t->stop($worker, 'TERM', 10);

# --- completed by gv_consume (throughput): no result ------------------------
{
	my $plain = $t->insert_job(1, funcname => 'plain', arg => 'p');
	my ($code, undef, $err) = $t->run({ timeout => 60 },
	    $t->build_path('gv_consume'), '-c', $ini, '-f', 'plain', '-n', 1,
	    '-o', $t->dir . '/plain.txt');
	is($code, 0, 'gv_consume completes one job') or diag($err);
	ok($t->wait_for('its record', 10, sub { record(1, $plain) }),
	    'recorded');
	my $out;
	($code, $out) = gvctl('show', $plain);
	is($code, 0, 'show of a bare JOBID that ended exits 0');
	like($out, qr/^job\s+1:$plain$/m, 'found in database 1');
	like($out, qr/^status\s+done$/m, 'done');
	like($out, qr/^uniqkey\s+-$/m, 'no unique key');
	like($out, qr/^result_len -\nresult\s+-$/m, 'no result given');
	my $doc;
	($code, $doc) = gvctl_json('show', "1:$plain");
	ok(exists $doc->{result} && !defined $doc->{result},
	    'JSON: result null');
	ok(exists $doc->{uniqkey} && !defined $doc->{uniqkey},
	    'JSON: uniqkey null');

	# --- the same jobid ended in both databases -------------------------
	$t->dbh(2)->do('INSERT INTO job (jobid, funcname, run_after) VALUES '
	    . '(?, ?, ?)', undef, $plain, 'twin', $NEVER);
	($code, $out, $err) = gvctl('delete', "2:$plain");
	is($code, 0, 'its twin in database 2 deleted') or diag($err);
	($code, $out, $err) = gvctl('show', $plain);
	is($code, 64, 'a bare JOBID that ended in both databases exits 64');
	like($err, qr/^gvctl: job $plain ended in databases 1 and 2: name it as DBID:JOBID$/m,
	    'and says how to name it');
	($code, $out) = gvctl('show', "2:$plain");
	like($out, qr/^funcname\s+twin\n(?:.*\n)*status\s+deleted$/m,
	    'DBID:JOBID names the one asked');
	$t->dbh(1)->do('INSERT INTO job (jobid, funcname, run_after) VALUES '
	    . '(?, ?, ?)', undef, $plain, 'again', $NEVER);
	($code, $out) = gvctl('show', $plain);
	is($code, 0, 'a job that lives wins over records');
	like($out, qr/^job\s+1:$plain\nfuncname\s+again$/m, 'the row shown');
	gvctl('delete', "1:$plain");
}

# --- cancelled, deleted -----------------------------------------------------
{
	my $later = row(2, 'later', in => 3600);
	my ($code, $out, $err) = gvctl('cancel', "2:$later");
	is($code, 0, 'gvctl cancel') or diag($err);
	is(record(2, $later)->{outcome}, 'cancelled', 'recorded as cancelled');
	($code, $out) = gvctl('show', $later);
	is($code, 0, 'show of a cancelled job exits 0');
	like($out, qr/^job\s+2:$later$/m, 'found in database 2');
	like($out, qr/^status\s+cancelled$/m, 'cancelled');
	unlike($out, qr/^result/m, 'no result line');

	my $parked = row(1, 'parkit', failcount => 4, attempt => 4);
	my $waits = row(1, 'parkit', in => 3600, failcount => 1, attempt => 1);
	$t->dbh(1)->do('INSERT INTO job_error (jobid, attempt, funcname, '
	    . 'failcount, error_time, message) VALUES (?, 4, ?, 4, '
	    . 'UNIX_TIMESTAMP(), ?)', undef, $parked, 'parkit', 'gave up');
	($code, $out) = gvctl('show', "1:$parked");
	like($out, qr/^state\s+parked\nstatus\s+parked$/m,
	    'a parked row: status parked');
	($code, $out) = gvctl('show', "1:$waits");
	like($out, qr/^state\s+scheduled, failing\nstatus\s+retrying$/m,
	    'a failed row waiting: status retrying');
	my $doc;
	($code, $doc) = gvctl_json('show', "1:$waits");
	is($doc->{status}, 'retrying', 'JSON: status');
	is($doc->{state}, 'scheduled', 'JSON: state, as list names it');

	($code, $out, $err) = gvctl('delete', '--function', 'parkit',
	    '--state', 'parked');
	is($code, 0, 'gvctl delete --state parked') or diag($err);
	like($out, qr/^database 1: deleted 1 job$/m, 'one job');
	my $r = record(1, $parked);
	is($r && $r->{outcome}, 'deleted', 'recorded as deleted');
	is($r && "$r->{attempt} $r->{failcount}", '4 4',
	    'with its attempt and failcount');
	is($r && $r->{kept}, $KEEP_DONE, 'kept for its keep_done');
	ok($r && !defined $r->{result}, 'no result');
	is($t->dbh(1)->selectrow_array('SELECT COUNT(*) FROM job_error WHERE '
	    . 'jobid = ?', undef, $parked), 0, 'its failures went with it');
	is($t->count(1, 'jobid = ?', $waits), 1,
	    'the job in another state stays');
	ok(!record(1, $waits), 'and has no record');

	($code, $out) = gvctl('show', "1:$parked");
	is($code, 0, 'show of a deleted job exits 0');
	like($out, qr/^status\s+deleted$/m, 'deleted');
	like($out, qr/^attempt\s+4\nfailcount\s+4$/m,
	    'attempt and failcount when it ended');

	my $nokeep = row(1, 'nokeep');
	($code, $out, $err) = gvctl('delete', "1:$nokeep");
	is($code, 0, 'a job of keep_done = 0 deleted') or diag($err);
	is($t->count(1, 'jobid = ?', $nokeep), 0, 'its row is gone');
	ok(!record(1, $nokeep), 'keep_done = 0: no record');
	($code, $out, $err) = gvctl('show', "1:$nokeep");
	is($code, 1, 'show of it exits 1');
	like($err, qr/^gvctl: job 1:$nokeep not found$/m, 'not found');
}

# --- by unique key ----------------------------------------------------------
{
	my ($code, $out, $err) = gvctl('show', '-f', 'text', '-k', 'text-1');
	is($code, 0, 'show -f FUNC -k KEY of a completed job') or diag($err);
	like($out, qr/^job\s+$ll{text}{dbid}:$ll{text}{jobid}\n(?:.*\n)*status\s+done$/m,
	    'its record');
	like($out, qr/^result\s+all done: 42$/m, 'with its result');

	# Records of the key in both databases, the newer in each of them in
	# turn: whichever database the key maps to, the newest is shown.
	for my $newer (1, 2) {
		my $key = "k$newer";
		my %id = map { ($_ => row($_, 'keyed', uniqkey => $key)) } 1, 2;
		($code, $out) = gvctl('show', '--function', 'keyed', '--key',
		    $key);
		like($out, qr/^status\s+parked$/m,
		    "$key: --function and --key, the long options");
		($code, $out, $err) = gvctl('delete', "1:$id{1}", "2:$id{2}");
		is($code, 0, "$key: both deleted") or diag($err);
		my $older = 3 - $newer;
		$t->dbh($older)->do('UPDATE job_outcome SET ended = ended - 100 '
		    . 'WHERE jobid = ?', undef, $id{$older});
		($code, $out, $err) = gvctl('show', '-f', 'keyed', '-k', $key);
		is($code, 0, "$key: show by key of records") or diag($err);
		like($out, qr/^job\s+$newer:$id{$newer}$/m,
		    "$key: the newest record, in database $newer");

		my $lives = row($older, 'keyed', uniqkey => $key, in => 60,
		    failcount => 1, attempt => 1);
		($code, $out) = gvctl('show', '-f', 'keyed', '-k', $key);
		like($out, qr/^job\s+$older:$lives\n(?:.*\n)*status\s+retrying$/m,
		    "$key: a job of the key that lives wins");
		gvctl('delete', "$older:$lives");
	}

	($code, $out, $err) = gvctl('show', '-f', 'keyed', '-k', 'nope');
	is($code, 1, 'show by a key never used exits 1');
	like($err, qr/^gvctl: job keyed\/nope not found$/m, 'not found');
}

# --- ids that never existed, usage ------------------------------------------
{
	my ($code, $out, $err) = gvctl('show', '1:999999');
	is($code, 1, 'show of an id that never existed exits 1');
	like($err, qr/^gvctl: job 1:999999 not found$/m, 'and says so');
	is($out, '', 'prints nothing on stdout');
	($code, $out, $err) = gvctl('show', '999999');
	is($code, 1, 'a bare JOBID too');
	like($err, qr/^gvctl: job 999999 not found$/m, 'and says so');

	($code, $out, $err) = gvctl('show', '-f', 'text');
	is($code, 64, 'show -f without -k: 64');
	like($err, qr/--function and --key/, 'says what names a job');
	($code) = gvctl('show', '-k', 'text-1');
	is($code, 64, 'show -k without -f: 64');
	($code, $out, $err) = gvctl('show', '-f', 'text', '-k', 'text-1',
	    '1:1');
	is($code, 64, 'a key and an id together: 64');
	like($err, qr/not both/, 'says so');
	($code) = gvctl('list', '-k', 'x');
	is($code, 64, '--key is for show and cancel only');
}

is($t->stop($master, 'TERM', 30), 0, 'the master stops');
done_testing;
