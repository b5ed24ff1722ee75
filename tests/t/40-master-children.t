#!/usr/bin/perl
# Children of the master: a killed child is replaced in its slot and the
# restart counted; a child that keeps dying restarts with a growing delay; a
# role that cannot reach its database is not restarted in a loop; QUIT stops
# at once; the children of a SIGKILLed master exit by themselves.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use GvTest;

my $t = GvTest->new(dbs => 0, gearmands => 0);
my $bin = $t->build_path('garivini');
# Closed ports: the roles run their outage loops, the master does not care.
my $ini = $t->write_ini(
	'garivini.gearman_servers' => '127.0.0.1:1',
	'db.1.host' => '127.0.0.1',
	'db.1.port' => 1,
	'db.1.database' => 'gv_none',
	'garivini.shutdown_timeout' => 5,
	'garivini.status_interval' => 0.5,
	'controller.processes' => 2,
);

sub slots {
	my ($st, $pool) = @_;
	return { map { $_->{slot} => $_->{pid} }
	    grep { $_->{pool} eq $pool } @{ $st->{children} } };
}

sub start_master {
	my $pid = $t->spawn($bin, '-c', $ini);
	$t->wait_for('the master to be running', 15, sub {
		my $st = $t->status_json;
		$st && $st->{master}{pid} == $pid &&
		    $st->{master}{state} eq 'running';
	}) or BAIL_OUT('the master did not start');
	return $pid;
}

# Gone, or a zombie waiting for init (reparented orphans are reaped by
# whoever pid 1 is, on its own schedule).
sub alive {
	my ($pid) = @_;
	return 0 unless kill 0, $pid;
	open(my $fh, '<', "/proc/$pid/stat") or return 0;
	my $stat = <$fh> // '';
	close $fh;
	return $stat =~ /^\d+ \(.*\) Z/ ? 0 : 1;
}

sub spawned {
	my ($what) = @_;
	open(my $fh, '<', $t->log_path) or return 0;
	my $n = grep { /master info: \Q$what\E \(pid \d+\) spawned$/ } <$fh>;
	close $fh;
	return $n;
}

my $master = start_master();
my $st = $t->status_json;
is($st->{master}{pid}, $master, 'status names the master');
is($st->{pools}{controller}{configured}, 2, 'controller: 2 configured');
is($st->{pools}{controller}{running}, 2, 'controller: 2 running');
is($st->{pools}{injector}{running}, 1, 'injector: 1 running');
is($st->{pools}{queue_runner}{running}, 1, 'queue_runner: 1 running');
is(scalar(@{ $st->{children} }), 4, 'four children listed');
my @ps = `ps -o pid= --ppid $master`;
is(scalar(@ps), 4, 'four child processes');
# ps names each one's role and slot; pidof and killall still find them.
is(GvTest::process_title($master), "garivini: master -c $ini",
    'ps: the master names its INI');
is_deeply([sort map { GvTest::process_title($_->{pid}) }
    @{ $st->{children} }], ['garivini: controller/0',
    'garivini: controller/1', 'garivini: injector/0',
    'garivini: queue_runner/0'], 'ps: each child its role and slot');
is_deeply([sort map { `ps -o comm= -p $_` =~ s/\s+$//r } $master,
    map { $_->{pid} } @{ $st->{children} }], [('garivini') x 5],
    'the process name stays garivini');

# SIGKILL a child: a new one takes its slot within 2 s, counted.
my $victim = slots($st, 'controller')->{1};
my $other = slots($st, 'controller')->{0};
kill 'KILL', $victim;
my $t0 = time;
my $new;
ok($t->wait_for('a new controller/1', 2, sub {
	$st = $t->status_json or return 0;
	$new = slots($st, 'controller')->{1};
	$new && $new != $victim;
}), 'a new child takes slot 1 within 2 s');
note(sprintf('replaced after %.2f s', time - $t0));
ok($t->wait_for('the restart to be counted', 2, sub {
	$st = $t->status_json;
	$st->{pools}{controller}{restarts} == 1;
}), 'the status file counts the restart');
is(slots($st, 'controller')->{0}, $other, 'the other slot kept its child');
ok($t->wait_for_log(qr/controller\/1 \(pid $victim\) killed by signal KILL after \d+\.\d s$/, 5),
    'the exit is logged with slot, pid, signal and lifetime');

# A child that keeps dying: restarts are spaced by a growing delay.
my (%seen, @starts);
$t0 = time;
while (time - $t0 < 10) {
	$st = $t->status_json or next;
	my $pid = slots($st, 'injector')->{0};
	if ($pid && !$seen{$pid}++) {
		push @starts, time - $t0;
		kill 'KILL', $pid;
	}
	sleep 0.02;
}
note('starts at ' . join(', ', map { sprintf('%.2f', $_) } @starts));
cmp_ok(scalar(@starts), '<=', 6, 'a handful of starts in 10 s at most');
cmp_ok(scalar(@starts), '>=', 4, 'but it is restarted');
my @gaps = map { $starts[$_] - $starts[$_ - 1] } 1 .. $#starts;
my $growing = 1;
for (1 .. $#gaps) {
	$growing = 0 if $gaps[$_] < $gaps[$_ - 1] * 1.5;
}
ok($growing, 'each delay longer than the one before')
    or diag('gaps: ' . join(', ', map { sprintf('%.2f', $_) } @gaps));
ok($t->wait_for_log(qr/injector\/0 will restart in 4\.0 s$/, 1),
    'the delay is logged');
$st = $t->status_json;
ok($st->{pools}{injector}{crash_looping}, 'the pool is shown crash-looping');

# The QueueRunner cannot reach its database (port 1) all along: it survives
# the outage inside, so it was started once, not in a loop.
is(spawned('queue_runner/0'), 1,
    'a role without its database is not restarted in a loop');

# QUIT: an immediate stop.
$t0 = time;
my @children = map { $_->{pid} } @{ $t->status_json->{children} };
is($t->stop($master, 'QUIT', 5), 0, 'QUIT: the master exits 0');
cmp_ok(time - $t0, '<', 2, 'at once');
ok(!(grep { alive($_) } @children), 'and its children are gone');
ok(!-e $t->pid_path, 'the pidfile is removed');

# SIGKILL the master: every child exits within 2 s.
$master = start_master();
@children = map { $_->{pid} } @{ $t->status_json->{children} };
is(scalar(@children), 4, 'four children again');
kill 'KILL', $master;
$t->wait_exit($master, 5);
$t0 = time;
ok($t->wait_for('the orphans to exit', 2, sub {
	!(grep { alive($_) } @children);
}), 'every child exits within 2 s of the master\'s death');
note(sprintf('gone after %.2f s', time - $t0));

done_testing();
