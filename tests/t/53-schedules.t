#!/usr/bin/perl
# [schedule.NAME]: a schedule every 2 s with two masters running against the
# same database yields exactly one job per slot, each run once; a HUP adds a
# schedule, one with a bad schedule keeps the old configuration, another
# removes one; slots missed while no master ran: once inserts the latest,
# skip none; gvctl schedules shows the state; a state row another session
# holds locked holds up no other job; bad sections are refused.
use strict;
use warnings;
use Test::More;
use JSON;
use GvTest;

my $t = GvTest->new(dbs => 1);
my $dir = $t->dir;
my $runs = "$dir/runs.txt";

# Plain Gearman workers (flag = controller: a Controller runs the job and
# deletes its row by the answer), each run a line with the job's unique key.
$t->perl_workers(1, $runs, [tick => 0], [hupf => 0]);

# Two masters, each with its own pid, status and log file.
my %sched = ('schedule.tick.function' => 'tick',
    'schedule.tick.every' => 2, 'schedule.tick.flag' => 'controller',
    # Yearly: its missed slots are years, so the test does not wait.
    'schedule.yo.function' => 'nowork', 'schedule.yo.cron' => '@yearly',
    'schedule.yo.arg' => 'yearly report', 'schedule.yo.priority' => 3,
    'schedule.ys.function' => 'nowork', 'schedule.ys.cron' => '0 0 1 1 *',
    'schedule.ys.missed' => 'skip',
    'queue_runner.processes' => 2, 'controller.processes' => 1,
    'injector.processes' => 0);
my %b = ('garivini.pidfile' => "$dir/b.pid",
    'garivini.status_file' => "$dir/b.json",
    'garivini.log_file' => "$dir/b.log", file => 'b.ini');
my $ini_a = $t->write_ini(%sched);
my $ini_b = $t->write_ini(%sched, %b);
my $ma = $t->spawn($t->build_path('garivini'), '-c', $ini_a);
my $mb = $t->spawn($t->build_path('garivini'), '-c', $ini_b);
ok($t->wait_for_log(qr/master notice: ready/, 30), 'master A is ready');
ok($t->wait_for_log(qr/master notice: ready/, 30, "$dir/b.log"),
    'master B is ready');

# [function, uniqkey] of each run.
sub run_lines {
	return map { [$_->[0], $_->[5]] } @{ $t->perl_worker_runs($runs) };
}

sub last_slot {
	my ($name) = @_;
	my ($v) = $t->dbh(1)->selectrow_array(
	    'SELECT last_slot FROM schedule_state WHERE name = ?', undef,
	    $name);
	return $v;
}

sub db_now {
	my ($v) = $t->dbh(1)->selectrow_array('SELECT UNIX_TIMESTAMP()');
	return $v;
}

sub log_lines {
	my ($re) = @_;
	my @l;
	for my $f ($t->log_path, "$dir/b.log") {
		open(my $in, '<', $f) or next;
		push @l, grep { $_ =~ $re } <$in>;
		close $in;
	}
	return @l;
}

ok($t->wait_for('the first tick to run', 20,
    sub { grep { $_->[0] eq 'tick' } run_lines() }), 'tick runs');
my $t0 = db_now();
$t->wait_for('10 s of ticks', 20, sub { db_now() >= $t0 + 10 });

# gvctl: the last slot of the state row, and the next one.
my ($code, $out, $err) = $t->run($t->build_path('gvctl'), '-c', $ini_a,
    '--json', 'schedules');
is($code, 0, 'gvctl schedules') or diag($err);
my %js = map { $_->{name} => $_ } @{ decode_json($out)->{schedules} };
is_deeply([sort keys %js], [qw(tick yo ys)], 'it lists the three');
is($js{tick}{every}, 2, 'tick: every 2');
is($js{yo}{cron}, '@yearly', 'yo: its cron');
is($js{ys}{missed}, 'skip', 'ys: missed skip');
cmp_ok($js{tick}{next_slot}, '==', $js{tick}{last_slot} + 2,
    'tick: the next slot follows the last');
($code, $out) = $t->run($t->build_path('gvctl'), '-c', $ini_a, 'schedules');
like($out, qr/^tick\s+tick\s+1\s+every 2 s\s+once\s+\d{4}-/m,
    'the table shows tick') or diag($out);
like($out, qr/^ys\s+nowork\s+1\s+cron 0 0 1 1 \*\s+skip\s+\d{4}-01-01T00:00:00Z\s+\d{4}-01-01T00:00:00Z/m,
    'and ys, on January 1st') or diag($out);

# A HUP adds a schedule (to master A only: one inserter is enough).
$t->write_ini(%sched, 'schedule.hup.function' => 'hupf',
    'schedule.hup.every' => 2, 'schedule.hup.flag' => 'controller');
kill 'HUP', $ma;
ok($t->wait_for('a job of the added schedule to run', 20,
    sub { grep { $_->[0] eq 'hupf' } run_lines() }),
    'HUP: the added schedule runs');
my ($hup) = grep { $_->[0] eq 'hupf' } run_lines();
like($hup->[1], qr/^schedule:hup:\d+$/, 'its unique key names the slot');

# A bad schedule: the reload fails, the old configuration stays.
$t->write_ini(%sched, 'schedule.hup.function' => 'hupf',
    'schedule.hup.every' => 2, 'schedule.hup.flag' => 'controller',
    'schedule.bad.function' => 'x', 'schedule.bad.cron' => '* * 32 * *');
kill 'HUP', $ma;
my $line = $t->wait_for_log(qr/reload failed, keeping the old configuration/,
    10);
like($line, qr/garivini\.ini:\d+: \[schedule\.bad\] cron: '\* \* 32 \* \*': day-of-month: 32 is out of range 1\.\.31/,
    'a bad cron fails the reload, naming file, line and key');
my $before = last_slot('hup');
ok($t->wait_for('the old schedules to go on', 10,
    sub { last_slot('hup') > $before }), 'the old schedules go on');

# Stop both masters: the two-master window is over.
is($t->stop($ma, 'TERM', 60), 0, 'master A stops');
is($t->stop($mb, 'TERM', 60), 0, 'master B stops');

# Every slot inserted once: the runs, and the jobs not run yet.
my %runs_of;
$runs_of{$_->[1]}++ for grep { $_->[0] eq 'tick' } run_lines();
my $left = $t->dbh(1)->selectcol_arrayref(
    "SELECT uniqkey FROM job WHERE funcname = 'tick'");
my %slots = map { /(\d+)$/ ? ($1 => 1) : () } (keys %runs_of, @$left);
my @slots = sort { $a <=> $b } keys %slots;
cmp_ok(scalar(@slots), '>=', 5, scalar(@slots) . ' slots of tick in '
    . 'the two-master window');
is(scalar(grep { $runs_of{$_} > 1 } keys %runs_of), 0,
    'no slot ran twice') or diag(explain(\%runs_of));
is($slots[-1] - $slots[0], 2 * $#slots, 'no slot was left out: every 2 s '
    . "from $slots[0] to $slots[-1]") or diag("@slots");
is(scalar(grep { /^\d+$/ && $_ % 2 == 0 } @slots), scalar(@slots),
    'each slot is a multiple of 2 s');
my @inserted = log_lines(qr/schedule tick: job \d+ /);
is(scalar(@inserted), scalar(@slots),
    'the two masters logged one insert per slot between them');
is(scalar(log_lines(qr/has a job in the table already/)), 0,
    'and none found its slot taken');
is(last_slot('tick'), $slots[-1], 'the state row holds the last slot');
{
	open(my $in, '<', "$dir/b.log") or die "b.log: $!";
	my $by_b = grep { /schedule tick: job \d+ / } <$in>;
	close $in;
	diag('slots inserted by master A: ' . (@inserted - $by_b)
	    . ', by master B: ' . $by_b);
}

# Missed slots: as if nothing had run for two years (yearly schedules),
# and for a few seconds (tick).
my $this_year = $js{ys}{last_slot};
is($js{yo}{last_slot}, $this_year, 'a new schedule starts at its last '
    . 'slot before it existed: no job for it');
is($t->count(1, "funcname = 'nowork'"), 0, 'so no yearly job yet');
# Any instant two years back: the slots after it are what was missed.
my $two_years_ago = $this_year - 2 * 366 * 86400;
$t->dbh(1)->do("UPDATE schedule_state SET last_slot = ? WHERE name IN "
    . "('yo', 'ys')", undef, $two_years_ago);
my $tick_stopped = last_slot('tick');
$t->wait_for('a few tick slots to pass', 15,
    sub { db_now() >= $tick_stopped + 6 });
$t->write_ini(%sched, 'schedule.hup.function' => 'hupf',
    'schedule.hup.every' => 2, 'schedule.hup.flag' => 'controller');
my $log_size = -s $t->log_path;
$ma = $t->spawn($t->build_path('garivini'), '-c', $ini_a);
ok($t->wait_for('the yearly schedules to be looked at', 30, sub {
	last_slot('yo') == $this_year && last_slot('ys') == $this_year }),
    'after the restart both yearly schedules reach this year');
ok($t->wait_for('tick to go on', 15,
    sub { last_slot('tick') > $tick_stopped + 6 }), 'tick goes on');
my $keys = $t->dbh(1)->selectcol_arrayref(
    "SELECT uniqkey FROM job WHERE funcname = 'nowork' ORDER BY uniqkey");
is_deeply($keys, ["schedule:yo:$this_year"], 'once: one job, for the '
    . 'latest missed slot; skip: none');
is_deeply($t->dbh(1)->selectrow_arrayref("SELECT arg, priority, flag FROM "
    . "job WHERE funcname = 'nowork'"), ['yearly report', 3, 'shim'],
    'the job has the arg, priority and flag of its schedule');
sub new_log {
	my ($re) = @_;
	open(my $in, '<', $t->log_path) or return ();
	seek($in, $log_size, 0);
	my @l = grep { $_ =~ $re } <$in>;
	close $in;
	return @l;
}
is(scalar(new_log(qr/schedule yo: slots from \S+ to \S+ were missed .*missed = once: the latest runs/)),
    1, 'once: the missed slots are logged');
is(scalar(new_log(qr/schedule ys: slots from \S+ to \S+ were missed .*missed = skip: none runs/)),
    1, 'skip: the missed slots are logged');
my ($missed) = new_log(qr/schedule tick: slots from/);
ok($missed, 'tick: the slots missed while no master ran are logged')
    or diag(join('', new_log(qr/schedule tick/)));
my %ran = map { /(\d+)$/ ? ($1 => 1) : () } (map { $_->[1] }
    grep { $_->[0] eq 'tick' } run_lines()),
    @{ $t->dbh(1)->selectcol_arrayref(
    "SELECT uniqkey FROM job WHERE funcname = 'tick'") };
my @gap = grep { $_ > $tick_stopped && $_ < $tick_stopped + 6 } keys %ran;
is(scalar(@gap), 0, 'once: no job for the tick slots passed over')
    or diag("@gap");

# A HUP that removes a schedule stops it.
$t->write_ini((map { $_ => $sched{$_} } grep { !/^schedule\.tick\./ }
    keys %sched), 'schedule.hup.function' => 'hupf', 'schedule.hup.every' => 2,
    'schedule.hup.flag' => 'controller');
kill 'HUP', $ma;
ok($t->wait_for_log(qr/master notice: reload done/, 10),
    'the reload is done');
sleep 3;        # the replaced QueueRunners finish their round
my $tick_last = last_slot('tick');
my $hup_last = last_slot('hup');
sleep 4;
is(last_slot('tick'), $tick_last, 'the removed schedule inserts no more');
cmp_ok(last_slot('hup'), '>', $hup_last, 'the one kept goes on');

# A database without the schedule_state table (the upgrade not applied):
# said so, the QueueRunners go on, and the schedules resume once it is there.
sub exits {
	open(my $in, '<', $t->log_path) or return 0;
	return scalar(grep { /queue_runner\/\d+ \(pid \d+\) exited/ } <$in>);
}
my $exits = exits();
$t->dbh(1)->do('RENAME TABLE schedule_state TO schedule_state_away');
ok($t->wait_for_log(qr/database 1 has no schedule_state table \(apply schema\.sql\)/,
    15), 'a missing state table is logged');
$t->dbh(1)->do('RENAME TABLE schedule_state_away TO schedule_state');
ok($t->wait_for_log(qr/schedules: database 1 works again/, 70),
    'once it is back, the schedules resume');
$hup_last = last_slot('hup');
ok($t->wait_for('hup to go on', 10, sub { last_slot('hup') > $hup_last }),
    'and insert again');
ok($t->running($ma), 'the master ran on');
is(exits(), $exits, 'and no QueueRunner exited');

# A state row held by a session that stalls inside its transaction (a master
# frozen half-way through a schedule's turn): the QueueRunners go on
# dispatching jobs, only that schedule waits, and the log says why. They
# waited innodb_lock_wait_timeout (50 s) at every look, claiming nothing
# meanwhile.
my $hold = $t->dbh(1)->clone;
$hold->begin_work;
$hold->selectrow_array("SELECT last_slot FROM schedule_state WHERE name = "
    . "'hup' FOR UPDATE");
$log_size = -s $t->log_path;
sleep 3;
$t->dbh(1)->do("INSERT INTO job (funcname, arg, uniqkey, run_after, flag) "
    . "VALUES ('tick', 'x', ?, 0, 'controller')", undef, "locked-$_")
    for 1 .. 5;
ok($t->wait_for('the jobs inserted meanwhile to run', 12, sub {
	5 == grep { $_->[1] =~ /^locked-/ } run_lines() }),
    'a locked state row holds up no job');
ok($t->wait_for('the wait to be logged', 20, sub {
	new_log(qr/schedule hup: its state row is locked by another session/)
    }), 'the locked state row is logged');
$hup_last = last_slot('hup');
$hold->rollback;
ok($t->wait_for('hup to go on', 10, sub { last_slot('hup') > $hup_last }),
    'once the row is free, the schedule goes on');

# Bad sections, each an error at file:line naming the key.
my @bad = (
	[{ 'schedule.x.function' => 'inject_jobs', 'schedule.x.every' => 2 },
	 qr/:\d+: \[schedule\.x\] function: inject_jobs: names a function Garivini serves itself/],
	[{ 'schedule.x.function' => 'run_queued_job', 'schedule.x.every' => 2 },
	 qr/:\d+: \[schedule\.x\] function: run_queued_job: /],
	[{ 'schedule.x.function' => 'f', 'schedule.x.cron' => '* * *' },
	 qr/:\d+: \[schedule\.x\] cron: '\* \* \*': expected 5 fields/],
	[{ 'schedule.x.function' => 'f', 'schedule.x.cron' => '*/0 * * * *' },
	 qr/:\d+: \[schedule\.x\] cron: .*minute: step '0'/],
	[{ 'schedule.x.function' => 'f', 'schedule.x.cron' => '* * * * *',
	   'schedule.x.every' => 5 },
	 qr/:\d+: \[schedule\.x\] (cron|every): set both cron and every/],
	[{ 'schedule.x.function' => 'f', 'schedule.x.arg' => 'a' },
	 qr/:\d+: \[schedule\.x\] cron: missing: give cron or every/],
	[{ 'schedule.x.function' => 'f', 'schedule.x.every' => 5,
	   'schedule.x.priority' => 11 },
	 qr/:\d+: \[schedule\.x\] priority: 11 is out of range -10\.\.10/],
	[{ 'schedule.x.function' => 'f', 'schedule.x.every' => 5,
	   'schedule.x.missed' => 'always' },
	 qr/:\d+: \[schedule\.x\] missed: 'always' is not once or skip/],
	[{ 'schedule.x.function' => 'f', 'schedule.x.every' => 5,
	   'schedule.x.dbid' => 9 },
	 qr/:\d+: \[schedule\.x\] dbid: no \[db\.9\] section/],
);
for my $b (@bad) {
	my ($over, $re) = @$b;
	my $ini = $t->write_ini(%$over, file => 'bad.ini');
	my ($c, $o, $e) = $t->run($t->build_path('garivini'), '-t', '-c',
	    $ini);
	isnt($c, 0, "refused: $re");
	like("$o$e", qr/bad\.ini$re/, '... with file, line and key')
	    or diag("$o$e");
}

done_testing();
