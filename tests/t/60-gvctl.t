#!/usr/bin/perl
# gvctl against two real databases holding jobs in every state: stats (JSON,
# table, Prometheus), list, show, delete and retry (by id, by function and
# state, dry runs), a retried parked job run by a real QueueRunner and
# worker, the master's status file, and the exit codes.
use strict;
use warnings;
use Test::More;
use JSON::PP ();
use List::Util qw(sum0);
use GvTest;

my $t = GvTest->new(dbs => 2, gearmands => 1);
my $gvctl = $t->build_path('gvctl');
my $ini = $t->write_ini('queue_runner.batch_run_sleep' => 0.05);
my $json = JSON::PP->new->utf8;
my $NEVER = 2147483647;

# Job ids of database 2 start at 1000, so a bare JOBID names one database.
$t->dbh(2)->do('ALTER TABLE job AUTO_INCREMENT = 1000');

# A row in a given state, timed by the database's clock: run_after is
# 'never' or seconds from now.
sub job {
	my ($dbid, $func, %o) = @_;
	my $id = $t->insert_job($dbid, funcname => $func, arg => $o{arg});
	my $when = $o{in} // 0;
	if ($when eq 'never') {
		$t->dbh($dbid)->do('UPDATE job SET run_after = ?, leased = ?, '
		    . 'failcount = ? WHERE jobid = ?', undef, $NEVER,
		    $o{leased} // 0, $o{failcount} // 0, $id);
	} else {
		$t->dbh($dbid)->do('UPDATE job SET run_after = '
		    . 'UNIX_TIMESTAMP() + ?, leased = ?, failcount = ? '
		    . 'WHERE jobid = ?', undef, $when, $o{leased} // 0,
		    $o{failcount} // 0, $id);
	}
	return $id;
}

sub gvctl { return $t->gvctl($ini, @_) }
sub gvctl_json { return $t->gvctl_json($ini, @_) }

my %id;
# database 1
$id{oldest} = job(1, 'alpha', in => -100);
$id{bytes} = job(1, 'alpha', in => -10, arg => "a\x00b\xffc\\");
$id{due_failing} = job(1, 'alpha', in => -5, failcount => 2);
job(1, 'alpha', in => 3600);
$id{scheduled_failing} = job(1, 'alpha', in => 600, failcount => 1);
$id{leased} = job(1, 'alpha', in => 300, leased => 1);
$id{parked1} = job(1, 'alpha', in => 'never', failcount => 10);
$id{parked2} = job(1, 'alpha', in => 'never');
$id{beta_leased} = job(1, 'beta', in => 200, leased => 1, failcount => 3);
# A lease that ran out: due again, whatever the leased column says.
$id{expired} = job(1, 'beta', in => -30, leased => 1);
# database 2
$id{d2_due} = job(2, 'alpha', in => -20);
$id{d2_parked} = job(2, 'alpha', in => 'never', failcount => 5);
job(2, 'beta', in => 100);
$id{d2_beta_parked} = job(2, 'beta', in => 'never');
my $weird = "we\"ird\\name";
job(2, $weird, in => -1);

sub figures {
	my ($f) = @_;
	return join(' ', map { $f->{$_} } qw(due scheduled leased failing
	    parked));
}

# --- stats ------------------------------------------------------------------
{
	my ($code, $s, $err) = gvctl_json('stats');
	is($code, 0, 'stats exits 0') or diag($err);
	my ($d1, $d2) = @{ $s->{databases} };
	is($d1->{dbid}, 1, 'database 1 first');
	is($d2->{dbid}, 2, 'database 2 next');
	my $a1 = $d1->{functions}{alpha};
	is(figures($a1), '3 2 1 2 2',
	    'db 1 alpha: due, scheduled, leased, failing, parked');
	cmp_ok($a1->{lag}, '>=', 100, 'lag of the oldest due job is 100 s');
	cmp_ok($a1->{lag}, '<', 130, '... and not much more');
	is(figures($d1->{functions}{beta}), '1 0 1 1 0',
	    'db 1 beta: an expired lease counts as due');
	cmp_ok($d1->{functions}{beta}{lag}, '>=', 30, 'db 1 beta lag');
	is(figures($d1->{total}), '4 2 2 3 2', 'db 1 total');
	is(figures($d2->{functions}{alpha}), '1 0 0 0 1', 'db 2 alpha');
	cmp_ok($d2->{functions}{alpha}{lag}, '>=', 20, 'db 2 alpha lag');
	cmp_ok($d2->{functions}{alpha}{lag}, '<', 50, 'db 2 alpha lag');
	is(figures($d2->{functions}{beta}), '0 1 0 0 1', 'db 2 beta');
	ok(JSON::PP::is_bool($d2->{functions}{beta}{lag})
	    || !defined $d2->{functions}{beta}{lag},
	    'no lag where nothing is due');
	is(figures($d2->{functions}{$weird}), '1 0 0 0 0',
	    'a function name with a quote and a backslash');
	is(figures($s->{functions}{alpha}), '4 2 1 2 3',
	    'alpha over both databases');
	cmp_ok($s->{functions}{alpha}{lag}, '>=', 100,
	    'the lag over both databases is the oldest');
	is(figures($s->{functions}{beta}), '1 1 1 1 1', 'beta over both');
	is(figures($s->{total}), '6 3 2 3 4', 'total over both databases');

	($code, $s) = gvctl_json('stats', '--function', 'beta');
	is($code, 0, 'stats --function exits 0');
	is_deeply([sort keys %{ $s->{functions} }], ['beta'],
	    'stats --function beta counts beta only');

	my $out;
	($code, $out, $err) = gvctl('stats');
	is($code, 0, 'stats table exits 0');
	like($out, qr/^DB\s+FUNCTION\s+DUE\s+SCHEDULED\s+LEASED\s+FAILING\s+PARKED\s+LAG$/m,
	    'table header');
	like($out, qr/^1\s+alpha\s+3\s+2\s+1\s+2\s+2\s+1\d\ds$/m,
	    'table row of db 1 alpha');
	like($out, qr/^all\s+\(total\)\s+6\s+3\s+2\s+3\s+4\s+\d+s$/m,
	    'table total');

	($code, $out, $err) = gvctl('stats', '--prometheus');
	is($code, 0, 'stats --prometheus exits 0') or diag($err);
	my $label = qr/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"/;
	my @bad = grep { !/^#/ && !/^[a-zA-Z_:][a-zA-Z0-9_:]*(?:\{$label(?:,$label)*\})? -?[0-9]+(?:\.[0-9]+)?$/ }
	    split /\n/, $out;
	is_deeply(\@bad, [], 'every line is a comment or name{labels} value');
	like($out, qr/^# TYPE garivini_jobs gauge$/m, 'TYPE line');
	like($out, qr/^garivini_jobs\{function="alpha",state="due"\} 4$/m,
	    'alpha due');
	like($out, qr/^garivini_jobs\{function="alpha",state="parked"\} 3$/m,
	    'alpha parked');
	like($out, qr/^garivini_jobs\{function="we\\"ird\\\\name",state="due"\} 1$/m,
	    'label values escaped');
	like($out, qr/^garivini_oldest_due_seconds\{function="alpha"\} 1\d\d$/m,
	    'oldest due seconds');
	like($out, qr/^garivini_database_up\{dbid="2"\} 1$/m, 'database up');
}

# --- list and show ----------------------------------------------------------
{
	my ($code, $out, $err) = gvctl('list', '--state', 'parked');
	is($code, 0, 'list exits 0') or diag($err);
	my @lines = grep { !/^JOB / } split /\n/, $out;
	is(scalar(@lines), 4, 'list --state parked: four jobs') or diag($out);
	is(scalar(grep { /\sparked\s+never\s/ } @lines), 4,
	    'each parked, run_after never');
	like($out, qr/^1:$id{parked1}\s+alpha\s+parked\s+never\s+0\s+10\s+0\s+-\s+0\s+-$/m,
	    'a list line: id, function, state, run_after, priority, failcount, '
	    . 'attempt, uniqkey, arg length, no failure kept (the rows were made by SQL)');

	($code, $out) = gvctl('list', '--function', 'alpha', '--limit', '2');
	@lines = grep { !/^JOB / } split /\n/, $out;
	is(scalar(@lines), 2, '--limit 2: two lines');
	like($lines[0], qr/^1:$id{oldest}\s+alpha\s+due\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s/,
	    'due first, oldest first, run_after as ISO time');
	like($lines[1], qr/\s6\s+a\\x00b\\xffc\\x5c$/, 'arg length and escaped arg');

	my $doc;
	($code, $doc) = gvctl_json('list', '--state', 'failing');
	is($code, 0, 'list --json exits 0');
	my %failing = map { ("$_->{dbid}:$_->{jobid}" => $_->{state}) }
	    @{ $doc->{jobs} };
	is_deeply(\%failing, { "1:$id{due_failing}" => 'due',
	    "1:$id{scheduled_failing}" => 'scheduled',
	    "1:$id{beta_leased}" => 'leased' },
	    'failing: failcount > 0 and not parked, with their states');

	($code, $doc) = gvctl_json('list');
	is(scalar(@{ $doc->{jobs} }), 15, 'list: every job');
	my %state = map { ("$_->{dbid}:$_->{jobid}" => $_->{state}) }
	    @{ $doc->{jobs} };
	is($state{"1:$id{expired}"}, 'due', 'an expired lease is due');
	is($state{"1:$id{leased}"}, 'leased', 'leased');
	is($state{"2:$id{d2_parked}"}, 'parked', 'parked');

	($code, $out, $err) = gvctl('show', "1:$id{bytes}");
	is($code, 0, 'show exits 0') or diag($err);
	like($out, qr/^job\s+1:$id{bytes}$/m, 'show: the id');
	like($out, qr/^funcname\s+alpha$/m, 'show: funcname');
	like($out, qr/^state\s+due$/m, 'show: state');
	like($out, qr/^leased\s+0$/m, 'show: leased');
	like($out, qr/^arg_len\s+6$/m, 'show: arg length');
	like($out, qr/^arg\s+a\\x00b\\xffc\\x5c$/m,
	    'show: arg, other bytes than printable ASCII as \xHH');
	($code, $out) = gvctl('show', "1:$id{due_failing}");
	like($out, qr/^state\s+due, failing$/m, 'show: failing too');

	($code, $doc) = gvctl_json('show', "1:$id{bytes}");
	is($code, 0, 'show --json exits 0');
	is($doc->{jobid}, $id{bytes}, 'the job document: jobid');
	is($doc->{dbid}, 1, 'dbid');
	is($doc->{arg}, "a\x00b\xffc\\", 'arg: one code point per byte');

	($code, $out, $err) = gvctl('show', $id{d2_due});
	is($code, 0, 'show JOBID unique across the databases');
	like($out, qr/^job\s+2:$id{d2_due}$/m, 'found in database 2');

	($code, $out, $err) = gvctl('show', '1:999999');
	is($code, 1, 'show of a missing job exits 1');
	like($err, qr/^gvctl: job 1:999999 not found$/, 'and says so');
	($code, $out, $err) = gvctl('show', '7:1');
	is($code, 64, 'show of an unconfigured database exits 64');
	like($err, qr/database 7 is not configured/, 'and says so');

	# The same jobid in both databases.
	$t->dbh(2)->do('INSERT INTO job (jobid, funcname, run_after) '
	    . 'VALUES (?, ?, UNIX_TIMESTAMP())', undef, $id{oldest}, 'dup');
	($code, $out, $err) = gvctl('show', $id{oldest});
	is($code, 64, 'an ambiguous JOBID exits 64');
	like($err, qr/exists in databases 1 and 2: name it as DBID:JOBID/,
	    'and says how to name it');
}

# --- delete -----------------------------------------------------------------
{
	my ($code, $out, $err) = gvctl('delete', '--dry-run', '--function',
	    'alpha', '--state', 'parked');
	is($code, 0, 'delete --dry-run exits 0') or diag($err);
	like($out, qr/^database 1: would delete 2 jobs: 1:$id{parked1} 1:$id{parked2}$/m,
	    'dry run: count and ids of database 1');
	like($out, qr/^database 2: would delete 1 job: 2:$id{d2_parked}$/m,
	    'and of database 2');
	like($out, qr/^total: would delete 3 jobs$/m,
	    'and the total');
	is($t->count(1, "funcname = 'alpha' AND run_after = $NEVER"), 2,
	    'dry run changed nothing in database 1');
	is($t->count(2, "funcname = 'alpha' AND run_after = $NEVER"), 1,
	    'nor in database 2');

	my $doc;
	($code, $doc) = gvctl_json('delete', '--dry-run', '--state',
	    'parked', '--limit', '1');
	is($doc->{total}, 4, 'dry run --json: the total');
	is_deeply($doc->{databases}[0]{ids}, ["1:$id{parked1}"],
	    '--limit caps the ids shown');
	is($doc->{databases}[0]{count}, 2, 'but not the count');
	($code, $out) = gvctl('delete', '--dry-run', '--state', 'parked',
	    '--limit', '1');
	like($out, qr/^database 1: would delete 2 jobs: 1:$id{parked1} \.\.\. \(1 more\)$/m,
	    'the table says how many more');

	($code, $out, $err) = gvctl('delete', "2:$id{oldest}");
	is($code, 0, 'delete by id exits 0') or diag($err);
	like($out, qr/^database 2: deleted 1 job$/m, 'one deleted in db 2');
	like($out, qr/^database 1: deleted 0 jobs$/m, 'none in db 1');
	is($t->count(2, 'jobid = ?', $id{oldest}), 0, 'the row is gone');
	is($t->count(1, 'jobid = ?', $id{oldest}), 1,
	    'the same jobid in database 1 stays');
	($code, $out, $err) = gvctl('delete', "2:$id{oldest}");
	is($code, 1, 'deleting it again exits 1');
	like($err, qr/not found/, 'and says why');

	($code, $out, $err) = gvctl('delete', '--function', 'beta', '--state',
	    'parked');
	is($code, 0, 'delete by function and state exits 0') or diag($err);
	like($out, qr/^database 2: deleted 1 job$/m, 'one parked beta');
	is($t->count(2, 'jobid = ?', $id{d2_beta_parked}), 0, 'gone');
	is($t->count(2, "funcname = 'beta'"), 1, 'the other beta stays');
	($code, $out) = gvctl('delete', '--function', 'beta', '--state',
	    'parked');
	is($code, 1, 'nothing left to delete: exits 1');
	like($out, qr/^total: 0 jobs deleted$/m, 'and says 0');
}

# --- bulk changes, in batches of 1000 ---------------------------------------
{
	$t->dbh(1)->do("INSERT INTO job (funcname, run_after) SELECT 'bulk', "
	    . "$NEVER FROM seq_1_to_2500");
	$t->dbh(2)->do("INSERT INTO job (funcname, run_after) SELECT 'bulk', "
	    . "UNIX_TIMESTAMP() - 10 FROM seq_1_to_1200");
	my ($code, $out, $err) = gvctl('retry', '--function', 'bulk',
	    '--state', 'due');
	is($code, 0, 'retry of due jobs ends though they stay due')
	    or diag($err);
	like($out, qr/^database 2: retried 1200 jobs$/m, 'all 1200 of them');
	($code, $out, $err) = gvctl('delete', '--function', 'bulk');
	is($code, 0, 'a bulk delete exits 0') or diag($err);
	like($out, qr/^database 1: deleted 2500 jobs$/m, '2500 in database 1');
	like($out, qr/^database 2: deleted 1200 jobs$/m, '1200 in database 2');
	is($t->count(1, "funcname = 'bulk'") + $t->count(2,
	    "funcname = 'bulk'"), 0, 'none left');
}

# --- retry ------------------------------------------------------------------
my $consumed = $t->dir . '/consumed.txt';
{
	my @parked = (job(1, 'rerun', in => 'never', failcount => 3),
	    job(1, 'rerun', in => 'never', failcount => 3));
	my $p2 = job(2, 'rerun', in => 'never', failcount => 3);
	my $reset = job(1, 'rerun', in => 'never', failcount => 5);
	my $later = job(1, 'rerun', in => 3600);

	my ($code, $out, $err) = gvctl('retry', '--reset-failcount',
	    "1:$reset");
	is($code, 0, 'retry by id exits 0') or diag($err);
	my ($run_after, $failcount, $leased, $now) = $t->dbh(1)
	    ->selectrow_array('SELECT run_after, failcount, leased, '
	    . 'UNIX_TIMESTAMP() FROM job WHERE jobid = ?', undef, $reset);
	cmp_ok($run_after, '<=', $now, 'retried: due now');
	is($failcount, 0, '--reset-failcount: failcount 0');
	is($leased, 0, 'not leased');

	($code, $out) = gvctl('retry', '--dry-run', '--function', 'rerun',
	    '--state', 'parked');
	is($code, 0, 'retry --dry-run exits 0');
	like($out, qr/^database 1: would retry 2 jobs: 1:$parked[0] 1:$parked[1]$/m,
	    'retry dry run: ids');
	is($t->count(1, "funcname = 'rerun' AND run_after = $NEVER"), 2,
	    'retry dry run changed nothing');

	($code, $out, $err) = gvctl('retry', '--function', 'rerun', '--state',
	    'parked');
	is($code, 0, 'retry by function and state exits 0') or diag($err);
	like($out, qr/^database 1: retried 2 jobs$/m, 'two in database 1');
	like($out, qr/^database 2: retried 1 job$/m, 'one in database 2');
	is($t->count(1, "funcname = 'rerun' AND run_after <= UNIX_TIMESTAMP() "
	    . 'AND failcount = 3'), 2, 'due now, failcount kept');

	my $runner = $t->spawn($t->build_path('garivini'), '--role',
	    'queue_runner', '-c', $ini);
	my $worker = $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f',
	    'rerun', '-o', $consumed);
	$t->wait_for('the retried jobs to run', 30, sub {
		$t->count(1, "funcname = 'rerun'") == 1
		    && $t->count(2, "funcname = 'rerun'") == 0;
	});
	is($t->count(1, 'jobid = ?', $later), 1,
	    'the scheduled job of the function was not retried');
	open(my $fh, '<', $consumed) or die "$consumed: $!";
	my @ran = map { [split /\t/] } <$fh>;
	close $fh;
	is_deeply([sort map { "$_->[0]:$_->[1]:$_->[3]" } @ran],
	    [sort("1:$parked[0]:3", "1:$parked[1]:3", "2:$p2:3", "1:$reset:0")],
	    'each retried job ran once, with its failcount');
	is($t->stop($runner), 0, 'the QueueRunner stops');
	is($t->stop($worker), 0, 'the worker stops');
}

# --- exit codes -------------------------------------------------------------
{
	my ($code, $out, $err) = gvctl();
	is($code, 64, 'no command: 64');
	like($err, qr/^gvctl: no command given/, 'one line naming it');
	($code, $out, $err) = gvctl('frobnicate');
	is($code, 64, 'unknown command: 64');
	($code, $out, $err) = gvctl('list', '--state', 'sleeping');
	is($code, 64, 'unknown state: 64');
	like($err, qr/--state sleeping/, 'names the option');
	($code) = gvctl('stats', '--dry-run');
	is($code, 64, 'an option of another command: 64');
	($code) = gvctl('retry');
	is($code, 64, 'retry of nothing named: 64');
	($code) = gvctl('delete', '--state', 'parked', '1:1');
	is($code, 64, 'ids and a filter together: 64');
	($code, $out, $err) = $t->run($gvctl, '-c', $t->dir . '/none.ini',
	    'stats');
	is($code, 78, 'missing configuration: 78');
	like($err, qr/none\.ini/, 'names the file');

	my $down = $t->write_ini(file => 'down.ini', 'db.2.port' => 1);
	($code, $out, $err) = $t->run($gvctl, '-c', $down, '--json', 'stats');
	is($code, 69, 'a database down: 69');
	like($err, qr/^gvctl: database 2: /m, 'names the database');
	my $s = eval { $json->decode($out) };
	ok($s && $s->{databases}[1]{error}, 'JSON marks it');
	my $a1 = $s ? $s->{databases}[0]{functions}{alpha} : {};
	is(sum0(map { $a1->{$_} // 0 } qw(due scheduled leased parked)),
	    $t->count(1, "funcname = 'alpha'"),
	    'and still counts the other (the states split the rows)');
	($code, $out) = $t->run($gvctl, '-c', $down, 'stats', '--prometheus');
	is($code, 69, '--prometheus with a database down: 69');
	like($out, qr/^garivini_database_up\{dbid="2"\} 0$/m,
	    'reports it down');
}

# --- status -----------------------------------------------------------------
{
	my $missing = $t->write_ini(file => 'missing.ini',
	    'garivini.status_file' => $t->dir . '/no-such-status.json');
	my ($code, $out, $err) = $t->run($gvctl, '-c', $missing, 'status');
	is($code, 69, 'status with no status file: 69');
	like($err, qr/^gvctl: status file \S+no-such-status\.json: No such file/,
	    'says which file');

	my $junk = $t->dir . '/junk.json';
	open(my $fh, '>', $junk) or die;
	print {$fh} "{ not json";
	close $fh;
	my $bad = $t->write_ini(file => 'junk.ini',
	    'garivini.status_file' => $junk);
	($code, $out, $err) = $t->run($gvctl, '-c', $bad, 'status');
	is($code, 69, 'an unparsable status file: 69');
	like($err, qr/not valid JSON/, 'and says so');

	my $master = $t->spawn($t->build_path('garivini'), '-c', $ini);
	$t->wait_for('the master to be running', 30, sub {
		my $st = $t->status_json;
		$st && ($st->{master}{state} // '') eq 'running'
		    && $st->{master}{pid} == $master;
	});
	($code, $out, $err) = gvctl('status');
	is($code, 0, 'status exits 0') or diag($err);
	like($out, qr/^master\s+pid $master, running, up \d/m, 'the master');
	like($out, qr/^config\s+\Q$ini\E$/m, 'its configuration');
	like($out, qr/^generation\s+1$/m, 'the reload generation');
	like($out, qr/^reload\s+none since start$/m, 'no reload yet');
	like($out, qr/^queue_runner\s+1\s+1\s+\d+\s+\d+\s+0\s+no\s+\d+\s+\d+$/m,
	    'a pool line: configured, running, busy, idle, restarts, failed');
	like($out, qr/^controller\/0\s+\d+\s+\w+\s+\d+s\s+\d+\s+\d+$/m,
	    'a child line');

	my $doc;
	($code, $doc) = gvctl_json('status');
	is($code, 0, 'status --json exits 0');
	is($doc->{master}{pid}, $master, 'the file as is');
	is_deeply([sort keys %{ $doc->{pools} }],
	    [qw(controller injector queue_runner)], 'with its pools');

	is($t->stop($master, 'TERM', 30), 0, 'the master stops');
}

done_testing;
