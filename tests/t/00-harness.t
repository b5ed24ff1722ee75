#!/usr/bin/perl
# The harness itself: private servers start, hold the schema, accept the
# original client's SQL, survive restarts (MariaDB a SIGKILL), and the
# process and INI helpers do what GvTest's POD says.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(time);
use GvTest;

my $started = time;
my $t = GvTest->new(dbs => 2, gearmands => 1, own_mariadb => 1);
ok(-d $t->dir, 'temporary directory ' . $t->dir);
note(sprintf('servers up in %.2f s', time - $started));

# --- databases -------------------------------------------------------------

my @columns = qw(jobid funcname arg uniqkey run_after coalesce flag failcount
    attempt leased priority);
for my $dbid (1, 2) {
	my $dbh = $t->dbh($dbid);
	is($dbh->selectrow_array('SELECT DATABASE()'), $t->db_name($dbid),
	    "db $dbid is " . $t->db_name($dbid));
	is($t->count($dbid), 0, "db $dbid: job table is empty");
	my $cols = $dbh->selectcol_arrayref(
	    'SELECT column_name FROM information_schema.columns '
	    . 'WHERE table_schema = DATABASE() AND table_name = ? '
	    . 'ORDER BY ordinal_position', undef, 'job');
	is_deeply($cols, \@columns, "db $dbid: job has the schema's columns");
}
isnt($t->db_name(1), $t->db_name(2), 'two distinct databases');

like(scalar $t->dbh(1)->selectrow_array('SELECT @@sql_mode'),
    qr/STRICT_TRANS_TABLES/, 'strict mode is on (the default)');
is(scalar $t->dbh(1)->selectrow_array(
    'SELECT @@innodb_flush_log_at_trx_commit'), 1, 'default durability');

# The user must also reach its databases over the socket ('localhost').
SKIP: {
	skip('GV_TEST_MYSQL: no private user garivini', 3)
	    unless $t->own_mariadb;
	is_deeply([$t->db_host, $t->db_user, $t->db_password],
	    ['127.0.0.1', 'garivini', 'garivini'], 'private credentials');
	my $drv = eval { require DBD::MariaDB; 1 } ? 'MariaDB' : 'mysql';
	my $dbh = DBI->connect("DBI:$drv:database=" . $t->db_name(2) . ';'
	    . lc($drv) . '_socket=' . $t->db_socket, 'garivini', 'garivini',
	    { RaiseError => 0, PrintError => 0 });
	ok($dbh && $dbh->do('SELECT 1 FROM job LIMIT 1'),
	    'garivini reaches db 2 over the socket');
	ok(!DBI->connect("DBI:$drv:database=mysql;host=127.0.0.1;port="
	    . $t->db_port, 'garivini', 'garivini',
	    { RaiseError => 0, PrintError => 0 }),
	    'but not the mysql database');
}

# The original Perl Garivini::Client::insert_job, verbatim: run_after bound
# as a number, flag undef (NULL, not the column default).
my $insert = 'INSERT IGNORE INTO job (funcname, run_after, uniqkey, '
    . 'coalesce, arg, flag) VALUES (?, ?, ?, ?, ?, ?)';
my $now = time;
$now = int($now);
is($t->dbh(1)->do($insert, undef, 'hello', $now, 'u1', undef, 'world',
    undef), 1, 'the original INSERT is accepted');
is($t->dbh(1)->do($insert, undef, 'hello', $now, 'u1', undef, 'dup', undef),
    '0E0', 'a duplicate uniqkey is ignored, as the original expects');
my $row = $t->dbh(1)->selectrow_hashref(
    'SELECT * FROM job WHERE funcname = ?', undef, 'hello');
is($row->{attempt}, 0, 'the new row has attempt 0');
is($row->{failcount}, 0, 'and failcount 0');
is($row->{run_after}, $now, 'and run_after as given');
is($row->{arg}, 'world', 'and arg');
is($row->{flag}, undef, 'and flag NULL');

# insert_job: the same statement, arg bound as a BLOB.
my $bytes = join('', map { chr } 0 .. 255);
my $jid = $t->insert_job(2, funcname => 'bytes', arg => $bytes,
    run_after => $now + 60);
ok($jid > 0, 'insert_job returns the jobid');
is($t->insert_job(2, funcname => 'bytes', uniqkey => 'k'), 1 + $jid,
    'and the next one');
is($t->insert_job(2, funcname => 'bytes', uniqkey => 'k'), 0,
    'and 0 for an ignored duplicate');
is(scalar $t->dbh(2)->selectrow_array('SELECT arg FROM job WHERE jobid = ?',
    undef, $jid), $bytes, 'arg keeps all 256 byte values');
$t->dbh(2)->do('DELETE FROM job');
is($t->count(1, 'funcname = ? AND run_after <= ?', 'hello', $now), 1,
    'count with a WHERE and binds');
is($t->count(2), 0, 'db 2 is untouched');

# --- gearmand --------------------------------------------------------------

like($t->gearman_servers, qr/^127\.0\.0\.1:\d+$/, 'gearman_servers');
my $gport = $t->gearmand_port(1);
like(scalar $t->gearman_admin(1, 'version'), qr/^OK /, 'admin version');

# A function name of our own: with GV_TEST_GEARMAN the server is shared.
my $func = "gv_harness_$$";
my ($code, $out, $err) = $t->run({ timeout => 20 }, 'gearman',
    '-h', '127.0.0.1', '-p', $gport, '-b', '-f', $func, '--', 'x1');
is($code, 0, 'gearman -b submits a background job') or diag($out, $err);
my $st;
ok($t->wait_for("$func queued", 5, sub {
	$st = $t->gearman_status(1);
	$st->{$func} && $st->{$func}{total} == 1;
}), 'gearman_status shows it');
is_deeply($st->{$func}, { total => 1, running => 0, workers => 0 },
    'waiting, not running, no worker');

SKIP: {
	skip('GV_TEST_GEARMAN: an external gearmand is not restarted', 5)
	    unless $t->own_gearmand(1);
	is($t->stop_gearmand(1), 0, 'gearmand stops on TERM with code 0');
	ok(!eval { $t->gearman_status(1); 1 },
	    'nothing answers while it is down');
	ok($t->start_gearmand(1), 'gearmand restarts');
	is($t->gearmand_port(1), $gport, 'on the same port');
	is_deeply($t->gearman_status(1), {},
	    'a restarted gearmand has lost its queue (no persistence)');
}

# --- MariaDB restart after SIGKILL -----------------------------------------

SKIP: {
	skip('GV_TEST_MYSQL: an external MariaDB is not restarted', 9)
	    unless $t->own_mariadb;
	my $jobid = $t->insert_job(2, funcname => 'kill_survivor',
	    arg => 'k');
	my $mpid = $t->mariadb_pid;
	is($t->stop_mariadb('KILL'), 128 + 9, 'mariadbd killed with SIGKILL');
	ok(!kill(0, $mpid), 'and gone');
	ok(!eval { $t->dbh(1); 1 }, 'no connection while it is down');
	$started = time;
	ok($t->start_mariadb, 'mariadbd restarts (crash recovery)');
	note(sprintf('restarted in %.2f s', time - $started));
	is($t->count(2, 'jobid = ?', $jobid), 1,
	    'a committed row survives the SIGKILL');
	is($t->count(1, 'funcname = ?', 'hello'), 1,
	    'and so does the first one');
	is($t->stop_mariadb('TERM'), 0, 'clean stop on TERM');
	ok($t->start_mariadb, 'and start again');
	is($t->count(2), 1, 'still there');
}

# --- garivini.ini ----------------------------------------------------------

sub parse_ini {
	my ($path) = @_;
	my (%ini, @order, $sec);
	open(my $fh, '<', $path) or die "$path: $!";
	while (<$fh>) {
		next if /^\s*(?:[;#]|$)/;
		if (/^\[(.+)\]\s*$/) {
			$sec = $1;
			push @order, $sec;
			$ini{$sec} = {};
		} elsif (/^(\w+)\s*=\s*(.*?)\s*$/) {
			$ini{$sec}{$1} = $2;
		} else {
			die "bad line in $path: $_";
		}
	}
	return (\%ini, \@order);
}

my $ini_path = $t->write_ini;
is($ini_path, $t->dir . '/garivini.ini', 'write_ini returns DIR/garivini.ini');
my ($ini, $order) = parse_ini($ini_path);
is_deeply($order, [qw(garivini db.1 db.2 queue_runner injector controller)],
    'default sections');
is_deeply($ini->{garivini}, {
	gearman_servers => $t->gearman_servers,
	pidfile => $t->dir . '/garivini.pid',
	status_file => $t->dir . '/status.json',
	log_file => $t->dir . '/garivini.log',
	log_level => 'info',
}, '[garivini] defaults');
is_deeply($ini->{'db.2'}, { host => $t->db_host, port => $t->db_port,
    database => $t->db_name(2), user => $t->db_user,
    password => $t->db_password }, '[db.2]');
is_deeply($ini->{queue_runner}, { processes => 1, batch_run_sleep => 0.05,
    lease_seconds => 30 }, '[queue_runner] defaults');

$ini_path = $t->write_ini('queue_runner.lease_seconds' => 5,
    'controller.processes' => 0, 'garivini.log_level' => 'debug',
    'controller.max_failures' => 3, 'injector.processes' => undef,
    'db.1.port' => 1, 'db.2' => undef, 'extra.key' => 'v');
($ini, $order) = parse_ini($ini_path);
is_deeply($order, [qw(garivini db.1 queue_runner injector controller extra)],
    'a section removed, one added at the end');
is($ini->{queue_runner}{lease_seconds}, 5, 'override replaces a key');
is($ini->{controller}{processes}, 0, 'override to 0');
is($ini->{controller}{max_failures}, 3, 'override adds a key');
is($ini->{garivini}{log_level}, 'debug', '[garivini] override');
is_deeply($ini->{injector}, {}, 'undef removes a key');
is($ini->{'db.1'}{port}, 1, 'db.N.key splits at the last dot');
is($ini->{extra}{key}, 'v', 'new section');
my $other = $t->write_ini(file => 'other.ini', 'garivini.log_level' => 'warn');
is($other, $t->dir . '/other.ini', 'file => writes another file');

# localize_ini keeps a file's comments and settings, rewires the rest.
my $fixture = $t->dir . '/fixture.ini';
open(my $fx, '>', $fixture) or die "$fixture: $!";
print {$fx} <<'INI';
; a comment
[garivini]
gearman_servers = 10.9.9.9:4730,
    10.9.9.8:4730
pidfile = /run/x.pid
log_file = syslog
log_level = notice
user = nobody
;group = nogroup

[db.3]
host = 10.0.0.1
socket = /run/mysqld/mysqld.sock
database = prod

[db.7]
port = 3307
database = other
user = u7

[queue_runner]
processes = 4
INI
close $fx;
my $local = $t->localize_ini($fixture, 'queue_runner.lease_seconds' => 9);
is($local, $t->dir . '/fixture.ini', 'localize_ini writes DIR/<name>');
($ini, $order) = parse_ini($local);
is_deeply($order, [qw(garivini db.3 db.7 queue_runner)],
    'localize_ini keeps the sections');
is_deeply($ini->{garivini}, {
	gearman_servers => $t->gearman_servers,
	pidfile => $t->dir . '/garivini.pid',
	status_file => $t->dir . '/status.json',
	log_file => $t->dir . '/garivini.log',
	log_level => 'notice',
}, 'localize_ini: [garivini] rewired, log_level kept, user commented out');
is_deeply($ini->{'db.3'}, { host => $t->db_host, port => $t->db_port,
    database => $t->db_name(1), user => $t->db_user,
    password => $t->db_password }, 'first [db.N] gets database 1');
is($ini->{'db.7'}{database}, $t->db_name(2), 'second gets database 2');
is_deeply($ini->{queue_runner}, { processes => 4, lease_seconds => 9 },
    'other settings kept, overrides applied');
unlike(GvTest::_read_file($local), qr/^\s+10\.9\.9\.8/m,
    'a replaced value loses its continuation lines');

my $sample = $t->repo_dir . '/garivini.ini';
ok(-f $sample, 'the sample garivini.ini exists');
SKIP: {
	skip('no sample garivini.ini', 3) unless -f $sample;
	($ini) = parse_ini($t->localize_ini($sample,
	    file => 'sample.ini'));
	is($ini->{garivini}{gearman_servers}, $t->gearman_servers,
	    'sample: gearman_servers rewired');
	is($ini->{'db.1'}{port}, $t->db_port, 'sample: [db.1] rewired');
	is($ini->{garivini}{pidfile}, $t->dir . '/garivini.pid',
	    'sample: pidfile in DIR');
}

# --- processes -------------------------------------------------------------

($code, $out, $err) = $t->run('sh', '-c', 'echo out; echo err >&2; exit 3');
is_deeply([$code, $out, $err], [3, "out\n", "err\n"], 'run');
($code, $out) = $t->run({ stdin => "abc\n" }, 'cat');
is_deeply([$code, $out], [0, "abc\n"], 'run with stdin');
($code) = $t->run('sh', '-c', 'kill -USR1 $$');
is($code, 128 + 10, 'run: killed by a signal is 128 + signal');

my $pid = $t->spawn('sh', '-c', 'echo started; exec sleep 30');
ok($t->wait_for('spawned output', 5, sub {
	open(my $fh, '<', $t->spawn_out($pid)) or return 0;
	return (<$fh> // '') eq "started\n";
}), 'spawn writes its output to spawn_out');
ok($t->running($pid), 'running');
is($t->stop($pid, 'TERM', 5), 128 + 15, 'stop returns 128 + SIGTERM');
ok(!$t->running($pid), 'not running after stop');
$pid = $t->spawn('sh', '-c', 'exit 7');
is($t->wait_exit($pid, 5), 7, 'wait_exit returns the exit code');

# Teardown reaches grandchildren through the process group.
{
	my $t2 = GvTest->new(dbs => 0, gearmands => 0);
	my $pidfile = $t2->dir . '/grandchild.pid';
	$t2->spawn('sh', '-c', "sleep 300 & echo \$! > $pidfile; wait");
	my $grandchild;
	$t2->wait_for('grandchild pid', 5, sub {
		open(my $fh, '<', $pidfile) or return 0;
		($grandchild) = (<$fh> // '') =~ /(\d+)/;
		return defined $grandchild;
	});
	ok(kill(0, $grandchild), 'grandchild runs');
	my $dir2 = $t2->dir;
	undef $t2;
	ok(!kill(0, $grandchild), 'teardown killed the grandchild');
	if (($ENV{GV_TEST_KEEP} // '') eq '1') {
		ok(-d $dir2, 'GV_TEST_KEEP=1 kept its directory');
		system('rm', '-rf', $dir2);
	} else {
		ok(!-e $dir2, 'and removed its directory');
	}
}

ok($t->wait_for('something true', 1, sub { 1 }), 'wait_for returns true');

# --- one MariaDB for a whole run (tests/bin/gv-prove) ------------------------
# This test has a server of its own; here it stands in for the one gv-prove
# starts, and two test objects take fresh databases in it.
{
	my $suite = GvTest->new(dbs => 0, gearmands => 0, name => 'suite');
	local $ENV{GV_TEST_SHARED_MARIADB} = $suite->start_shared_mariadb;
	local $ENV{GV_TEST_MYSQL};
	my $a = GvTest->new(dbs => 2, gearmands => 0);
	my $b = GvTest->new(dbs => 1, gearmands => 0);
	ok(!$a->own_mariadb && !$a->mariadb_pid, 'a test shares the server');
	is($a->db_port, $suite->db_port, 'the suite\'s');
	my @names = ($a->db_name(1), $a->db_name(2), $b->db_name(1));
	is(scalar(keys %{ { map { $_ => 1 } @names } }), 3,
	    "each test its own databases (@names)");
	like($names[0], qr/^gv_00_harness_/, 'named after the test file');
	$a->insert_job(1, funcname => 'shared', arg => 'x');
	is($a->count(1), 1, 'a row in the first test\'s database');
	is($b->count(1), 0, 'none in the second\'s');
	my $dbh = $b->dbh(1);
	ok($dbh->do('SELECT 1 FROM job LIMIT 1'), 'as the tests\' user');
	ok(!eval { $a->stop_mariadb; 1 }, 'a shared server is not stopped');
	like($@, qr/own_mariadb => 1/, 'with a word on how to get one\'s own');
	my $own = GvTest->new(dbs => 1, gearmands => 0, own_mariadb => 1);
	ok($own->own_mariadb && $own->db_port != $suite->db_port,
	    'own_mariadb => 1 starts a private one');
	undef $own;
	undef $a;
	my $left = $suite->_admin_dbh->selectcol_arrayref('SHOW DATABASES '
	    . 'LIKE ?', undef, 'gv\_00\_harness\_%');
	is_deeply($left, [$names[2]], 'teardown drops a test\'s databases');
	undef $b;
}

note(sprintf('harness test body done in %.2f s', time - $^T));
done_testing;
