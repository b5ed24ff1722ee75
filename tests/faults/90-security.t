#!/usr/bin/perl
# Security: the database password never shows in the log, the status files,
# the output of the tools or the process titles, even around configuration
# errors and a wrong password; a garivini.ini holding a password that others
# may read is warned about; the pidfile, the status files and the log file
# never follow a link planted where they go (and the log file is never
# handed to the service user through one); no shell is ever run and every
# SQL statement is prepared.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Gearman::Client;
use JSON::PP;
use GvChaos;

my $pw = 'Pw-9f3kZ-s3cret';
my $c = GvChaos->new(dbs => 1, ini => {
	'garivini.prometheus_file' => '', 'queue_runner.lease_seconds' => 5 });
my $t = $c->t;
my $dir = $t->dir;
my $bin = $t->build_path('garivini');
my $admin = $t->_admin_dbh;
for my $host ('127.0.0.1', 'localhost') {
	$admin->do("CREATE USER 'gvsecret'\@'$host' IDENTIFIED BY '$pw'");
	$admin->do("GRANT ALL ON " . $t->db_name(1) . ".* TO "
	    . "'gvsecret'\@'$host'");
}
my %secret = ('db.1.user' => 'gvsecret', 'db.1.password' => $pw,
    'garivini.prometheus_file' => "$dir/metrics.prom");
my $ini = $c->rewrite_ini(%secret);
chmod 0600, $ini;

# --- the warning about a readable password ----------------------------------
sub warning_of {
	my ($mode, $file) = @_;
	chmod $mode, $file // $ini;
	my (undef, undef, $err) = $t->run($bin, '-t', '-c', $file // $ini);
	return $err;
}
unlike(warning_of(0600), qr/warning/, 'mode 0600: no warning');
like(warning_of(0644), qr/^garivini: warning: \Q$ini\E holds a database password \(\[db\.1\]\) and is readable by others \(mode 0644\)/m,
    'mode 0644: readable by others');
like(warning_of(0640), qr/readable by its group \(mode 0640\)/,
    'mode 0640: readable by its group');
like(warning_of(0620), qr/writable by its group/, 'mode 0620: writable');
my $nopw = $t->write_ini(file => 'nopw.ini', 'db.1.password' => undef);
unlike(warning_of(0644, $nopw), qr/warning/,
    'no password, mode 0644: no warning');
# The group the key group names, the service's own, may read it (not write
# it): the Debian package installs it root:garivini, mode 0640.
my $gid = getgrnam('nogroup') // die "no group nogroup\n";
my $grouped = $t->write_ini(%secret, file => 'grouped.ini',
    'garivini.group' => 'nogroup');
chown(-1, $gid, $grouped) or die "chown $grouped: $!\n";
unlike(warning_of(0640, $grouped), qr/warning/,
    'mode 0640, the group the key group names: no warning');
like(warning_of(0660, $grouped), qr/writable by its group/,
    'that group may not write it');
like(warning_of(0644, $grouped), qr/readable by others/,
    'nor may others read it');
chown(-1, 0, $grouped) or die "chown $grouped: $!\n";
like(warning_of(0640, $grouped), qr/readable by its group/,
    'mode 0640, another group than the key names: warned');

# The master warns at start and on a reload.
chmod 0644, $ini;
my $master = $c->start_master;
ok(scalar($c->log_grep(qr/master warn: \Q$ini\E holds a database password/)),
    'the master warns at start');
chmod 0600, $ini;
kill 'HUP', $master;
$t->wait_for_log(qr/reload done, generation 2/, 10);
is(scalar($c->log_grep(qr/holds a database password/)), 1,
    'not after a reload of a file made private');
chmod 0604, $ini;
kill 'HUP', $master;
$t->wait_for_log(qr/reload done, generation 3/, 10);
is(scalar($c->log_grep(qr/holds a database password/)), 2,
    'and again after a reload of a file others can read');
chmod 0600, $ini;

# --- the password stays secret ----------------------------------------------
# Work in both modes, configuration errors around the password line, a
# reload that fails, then a wrong password: nothing may show it.
my $ran = "$dir/ran.txt";
my @workers = map { $t->spawn($t->build_path('gv_consume'), '-c', $ini,
    '-m', $_, '-f', "secret_$_", '-o', $ran) } qw(throughput latency);
my ($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-f', 'secret_throughput', '-n', 20);
is($code, 0, 'jobs inserted') or diag($err);
my $client = Gearman::Client->new(
    job_servers => [split /,/, $t->gearman_servers]);
ok($client->do_task('inject_jobs', encode_json({
	funcname => 'secret_latency', arg => 'x' }), { timeout => 30 }),
    'a job injected');
ok($t->wait_for('the jobs to run', 30, sub { $t->count(1) == 0 }),
    'they ran');

# Errors quote a bad value of a key that is not secret (a port of "abc"),
# so the password is put where a password goes: under a misspelt key,
# given twice, continued by an indented line, alone on a line.
my %broken = (%secret, 'db.1.pasword' => $pw, 'db.1.port' => 'abc');
my $bad = $t->write_ini(file => 'bad.ini', %broken);
open(my $fh, '>>', $bad) or die;
print {$fh} "[db.1]\npassword = $pw\n  $pw\n$pw\n[garivini]\n"
    . "password: $pw\n";
close $fh;
chmod 0600, $bad;
($code, my $out, $err) = $t->run($bin, '-t', '-c', $bad);
is($code, 78, 'a broken configuration is refused');
like($err, qr/unknown key/, 'with its errors');
rename $bad, $ini;
kill 'HUP', $master;
$t->wait_for_log(qr/reload failed, keeping the old configuration/, 10);
ok($t->wait_for('the status file to show the failed reload', 10, sub {
	my $st = $t->status_json;
	$st && ($st->{master}{last_reload}{result} // '') eq 'failed' }),
    'the status file holds the reload error');

$c->rewrite_ini(%secret, 'db.1.password' => "$pw-wrong");
chmod 0600, $ini;
kill 'HUP', $master;
ok($t->wait_for_log(qr/Access denied for user 'gvsecret'/, 20),
    'a wrong password: access denied');
my @titles;
for my $pid ($master, GvChaos::proc_children($master)) {
	open(my $p, '<', "/proc/$pid/cmdline") or next;
	local $/;
	push @titles, <$p>;
	close $p;
}
push @titles, `ps -eo args`;
($code, $out, $err) = $t->run($bin, '-t', '-v', '-c', $ini);
like($out, qr/^\[db\.1\] password = \(set\)/m, '-t -v shows "(set)"');
push @titles, $out, $err;
($code, $out, $err) = $t->run($bin, '-s', 'status', '-c', $ini);
push @titles, $out, $err;
$c->rewrite_ini(%secret);
chmod 0600, $ini;
is($c->stop_master, 0, 'the master stops gracefully');
$t->stop($_, 'TERM', 10) for @workers;

my @files = (glob("$dir/*.out"), glob("$dir/run.*"), $t->log_path,
    $t->status_path, "$dir/metrics.prom");
my @leaks;
for my $f (@files) {
	open(my $in, '<', $f) or next;
	local $/;
	my $text = <$in> // '';
	close $in;
	push @leaks, $f if index($text, $pw) >= 0;
}
ok(-s "$dir/metrics.prom", 'the Prometheus file was written');
is_deeply(\@leaks, [], 'no log, status or output file holds the password')
    or diag("leaks: @leaks");
ok(!grep({ index($_, $pw) >= 0 } @titles),
    'no process title or tool output holds it');

# --- pidfile and status files never follow a planted link --------------------
my $victim = "$dir/victim.txt";
sub victim_intact {
	open(my $v, '<', $victim) or return 0;
	my $s = <$v>;
	close $v;
	return ($s // '') eq "precious\n";
}
sub plant {
	my ($how, $path) = @_;
	unlink $path;
	open(my $v, '>', $victim) or die;
	print {$v} "precious\n";
	close $v;
	if ($how eq 'symlink') { symlink($victim, $path) or die "$path: $!" }
	elsif ($how eq 'dangling') { symlink("$dir/created-by-us", $path) }
	elsif ($how eq 'hard link') { link($victim, $path) or die "$path: $!" }
	elsif ($how eq 'fifo') {
		require POSIX;
		POSIX::mkfifo($path, 0644) or die "$path: $!";
	}
}
for my $how ('symlink', 'dangling', 'hard link', 'fifo') {
	plant($how, $t->pid_path);
	my $pid = $t->spawn({ name => 'master' }, $bin, '-c', $ini);
	my $rc = $t->wait_exit($pid, 10);
	isnt($rc // 'hung', 0, "a $how as the pidfile: the master refuses to "
	    . 'start');
	ok(defined $rc, "a $how as the pidfile: at once");
	ok(victim_intact(), "a $how as the pidfile: the other file is "
	    . 'untouched');
	ok(!-e "$dir/created-by-us", "a $how as the pidfile: nothing created "
	    . 'where it points') if $how eq 'dangling';
	($rc) = $t->run($bin, '-s', 'stop', '-c', $ini);
	isnt($rc, 0, "a $how as the pidfile: garivini -s does not act on it");
	unlink $t->pid_path;
}
for my $which ($t->status_path, "$dir/metrics.prom") {
	plant('symlink', $which);
	$master = $c->start_master;
	kill 'USR1', $master;
	ok($t->wait_for("$which replaced by a file", 10, sub { -f $which &&
	    !-l $which }), "a symlink as $which: replaced, not followed");
	ok(victim_intact(), "a symlink as $which: the other file is "
	    . 'untouched');
	is($c->stop_master, 0, 'the master stops');
}

# --- the log file never follows a planted link --------------------------------
# The log lives in a directory the service user can write: there, the user
# can plant a link where root (the master, before it drops privileges) opens
# the log for appending and hands it to the user.
chmod 0711, $dir or die "chmod: $!";
my $logs = "$dir/logs";
mkdir $logs or die "mkdir: $!";
chmod 0777, $logs or die "chmod: $!";
my $logfile = "$logs/garivini.log";
my $user_ini = $c->rewrite_ini(%secret, file => 'user.ini',
    'garivini.user' => 'nobody', 'garivini.group' => 'nogroup',
    'garivini.log_file' => $logfile,
    'garivini.status_file' => "$logs/status.json",
    'garivini.prometheus_file' => '');
chmod 0644, $user_ini;
sub slurp {
	open(my $in, '<', $_[0]) or return '';
	local $/;
	return scalar(<$in>) // '';
}
# victim_intact reads one line: appended lines must show too.
sub victim_whole { slurp($victim) eq "precious\n" }
sub victim_root_owned {
	my @st = stat($victim);
	return @st && $st[4] == 0 && $st[5] == 0;
}
for my $how ('symlink', 'dangling', 'hard link') {
	plant($how, $logfile);
	chmod 0644, $victim;
	my $pid = $t->spawn({ name => 'master' }, $bin, '-c', $user_ini);
	my $rc = $t->wait_exit($pid, 10);
	$t->stop($pid, 'TERM', 20) unless defined $rc;
	ok(defined $rc && $rc != 0, "a $how as the log file: the master "
	    . 'refuses to start');
	ok(victim_whole(), "a $how as the log file: the other file is not "
	    . 'appended to');
	ok(victim_root_owned(), "a $how as the log file: the other file is "
	    . 'not handed to the user');
	ok(!-e "$dir/created-by-us", "a $how as the log file: nothing "
	    . 'created where it points') if $how eq 'dangling';
	my $why = $how eq 'hard link' ? qr/has another name \(a hard link\)/
	    : qr/is a symbolic link/;
	my $said = slurp($t->spawn_out($pid));
	like($said,
	    qr/log_file \Q$logfile\E: $why/,
	    "a $how as the log file: a clear error");
	unlink $logfile, $t->pid_path;
}
# Planted after the start, for the next reopen (logrotate's USR2): the
# master and its children keep the file they have.
my $pid = $t->spawn({ name => 'master' }, $bin, '-c', $user_ini);
ok($t->wait_for('the master as nobody', 20, sub {
	my $st = $t->status_json("$logs/status.json");
	$st && $st->{master}{pid} == $pid && $st->{master}{state} eq 'running'
}), 'a master as nobody with its log in a directory the user can write');
rename $logfile, "$logfile.1" or die "rename: $!";
plant('symlink', $logfile);
chmod 0666, $victim;    # so that a child, as nobody, could write it too
kill 'USR2', $pid;
ok($t->wait_for_log(qr/\[$pid\] master warn: cannot reopen the log file/,
    10, "$logfile.1"), 'a symlink at the log file on reopen: refused');
ok($t->wait_for('every child to refuse it too', 10, sub {
	my @l = grep { /cannot reopen the log file/ && !/\[$pid\]/ }
	    split /\n/, slurp("$logfile.1");
	@l >= 3 }), 'and by every child');
ok(victim_whole(), 'a symlink at the log file on reopen: the other file '
    . 'is not appended to');
ok(victim_root_owned(), 'nor handed to the user');
is($t->stop($pid, 'TERM', 20), 0, 'the master stops');
unlink $logfile, $t->pid_path;

# --- no shell, prepared statements only ---------------------------------------
my @sources = map { glob($t->repo_dir . "/$_/*.[ch]") }
    qw(src runtime workers supervisor main tools);
cmp_ok(scalar(@sources), '>', 20, scalar(@sources) . ' C sources read');
my (@shell, @unprepared);
for my $f (@sources) {
	open(my $in, '<', $f) or die "$f: $!";
	local $/;
	(my $text = <$in>) =~ s{/\*.*?\*/}{}gs;    # comments may name them
	close $in;
	push @shell, $f if $text =~ /\b(?:system|popen|exec[lv]p?e?|
	    posix_spawnp?|wordexp)\s*\(/x;
	push @unprepared, $f if $text =~ /\bmysql_(?:real_)?query\s*\(|
	    \bmysql_send_query\s*\(/x;
}
is_deeply(\@shell, [], 'no shell and no exec anywhere');
is_deeply(\@unprepared, [], 'no SQL text sent outside prepared statements');
done_testing();
