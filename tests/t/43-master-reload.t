#!/usr/bin/perl
# Reload (HUP): pools resized by slots with the other children untouched, a
# broken file changing nothing, a HUP storm, changed settings replacing a
# pool's children one by one. USR1: status written now, never seen half
# written. USR2: the log reopened by the master and its children.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);
use POSIX qw(WNOHANG);
use JSON;
use GvTest;

my $t = GvTest->new(dbs => 0, gearmands => 0);
my $bin = $t->build_path('garivini');
my %base = (
	'garivini.gearman_servers' => '127.0.0.1:1',
	'db.1.host' => '127.0.0.1',
	'db.1.port' => 1,
	'db.1.database' => 'gv_none',
	'garivini.shutdown_timeout' => 5,
	'garivini.status_interval' => 0.5,
	'queue_runner.processes' => 1,
	'injector.processes' => 1,
	'controller.processes' => 4,
);
my $ini = $t->write_ini(%base);

sub slots {
	my ($st, $pool) = @_;
	return { map { $_->{slot} => $_->{pid} }
	    grep { $_->{pool} eq $pool } @{ $st->{children} } };
}

sub pids {
	my ($st, $pool) = @_;
	my $s = slots($st, $pool);
	return join(',', map { "$_:$s->{$_}" } sort { $a <=> $b } keys %$s);
}

# Every configured slot has a child and nothing is on its way out.
sub settled {
	my ($st, %want) = @_;
	for my $pool (keys %want) {
		my $p = $st->{pools}{$pool};
		return 0 unless $p->{configured} == $want{$pool} &&
		    $p->{running} == $want{$pool} && $p->{stopping} == 0 &&
		    $p->{starting} == 0;
	}
	return 1;
}

sub log_lines {
	my ($re) = @_;
	open(my $fh, '<', $t->log_path) or return ();
	my @l = grep { $_ =~ $re } <$fh>;
	close $fh;
	return @l;
}

my $master = $t->spawn($bin, '-c', $ini);
my $st;
ok($t->wait_for('the pools to be up', 15, sub {
	$st = $t->status_json;
	$st && $st->{master}{state} eq 'running' && settled($st,
	    queue_runner => 1, injector => 1, controller => 4);
}), 'up: queue_runner 1, injector 1, controller 4') or BAIL_OUT('no master');
is($st->{master}{generation}, 1, 'generation 1');
is($st->{master}{last_reload}, undef, 'no reload yet');

# Resize: controller 4 -> 2, queue_runner 1 -> 3.
my %before = map { $_ => slots($st, $_) } qw(queue_runner injector controller);
$ini = $t->write_ini(%base, 'controller.processes' => 2,
    'queue_runner.processes' => 3);
kill 'HUP', $master;
ok($t->wait_for('the new sizes', 10, sub {
	$st = $t->status_json;
	settled($st, queue_runner => 3, injector => 1, controller => 2);
}), 'the counts follow: queue_runner 3, controller 2');
is($st->{master}{generation}, 2, 'generation 2');
is($st->{master}{last_reload}{result}, 'ok', 'last reload ok');
is(pids($st, 'injector'), join(',', map { "$_:$before{injector}{$_}" } 0),
    'the injector kept its pid');
is(slots($st, 'queue_runner')->{0}, $before{queue_runner}{0},
    'queue_runner/0 kept its pid');
is(slots($st, 'controller')->{0}, $before{controller}{0},
    'controller/0 kept its pid');
is(slots($st, 'controller')->{1}, $before{controller}{1},
    'controller/1 kept its pid');
ok(!kill(0, $before{controller}{3}) && !kill(0, $before{controller}{2}),
    'controller/2 and /3 are gone');
is(scalar(log_lines(qr/controller\/[23] \(pid \d+\) retired: the pool shrinks to 2$/)),
    2, 'the highest slots were retired');
is(scalar(log_lines(qr/controller\/[23] \(pid \d+\) exited with code 0 after/)),
    2, 'gracefully (exit code 0)');
is($st->{pools}{controller}{restarts}, 0, 'a resize is no restart');

# A broken file changes nothing.
%before = map { $_ => pids($st, $_) } qw(queue_runner injector controller);
my $spawns = scalar(log_lines(qr/ spawned$/));
$t->write_ini(%base, 'controller.processes' => 'lots',
    'queue_runner.processes' => 1);
kill 'HUP', $master;
my $line = $t->wait_for_log(
    qr/master err: reload failed, keeping the old configuration: /, 10);
like($line, qr/\Q$ini\E:\d+: .*processes/, 'the error names file and line');
ok($t->wait_for('the status file to show the error', 5, sub {
	$st = $t->status_json;
	$st->{master}{last_reload}{result} eq 'failed';
}), 'the status file shows the failed reload');
like($st->{master}{last_reload}{error}, qr/\Q$ini\E:\d+: .*processes/,
    'with its error');
is($st->{master}{generation}, 2, 'generation unchanged');
sleep 0.5;
$st = $t->status_json;
ok(settled($st, queue_runner => 3, injector => 1, controller => 2),
    'the old configuration still runs');
is(pids($st, $_), $before{$_}, "$_: no child restarted")
    for qw(queue_runner injector controller);
is(scalar(log_lines(qr/ spawned$/)), $spawns, 'no child spawned');
ok($t->running($master), 'the master lives');

# A HUP storm: 50 within a second, the file changing under it.
for my $i (1 .. 50) {
	$t->write_ini(%base, 'controller.processes' => 2 + $i % 2,
	    'queue_runner.processes' => 3);
	kill 'HUP', $master;
	sleep 0.015;
}
$t->write_ini(%base, 'controller.processes' => 2,
    'queue_runner.processes' => 3);
kill 'HUP', $master;
ok($t->running($master), 'the master survives 50 HUPs');
ok($t->wait_for('the pools to settle', 15, sub {
	$st = $t->status_json;
	settled($st, queue_runner => 3, injector => 1, controller => 2);
}), 'the pools are right after the storm');
is($st->{master}{last_reload}{result}, 'ok', 'last reload ok');
cmp_ok($st->{master}{generation}, '>', 3, 'the storm was applied');
is(pids($st, $_), $before{$_}, "$_: untouched by the storm")
    for qw(queue_runner injector);
is($st->{pools}{$_}{restarts}, 0, "$_: no restart")
    for qw(queue_runner injector controller);

# Changed settings: the controllers are replaced one by one, the others
# keep their children.
%before = map { $_ => slots($st, $_) } qw(queue_runner injector controller);
$t->write_ini(%base, 'controller.processes' => 2,
    'queue_runner.processes' => 3, 'controller.max_failures' => 3);
kill 'HUP', $master;
ok($t->wait_for('new controllers', 15, sub {
	$st = $t->status_json;
	my $c = slots($st, 'controller');
	settled($st, queue_runner => 3, injector => 1, controller => 2) &&
	    $c->{0} != $before{controller}{0} &&
	    $c->{1} != $before{controller}{1};
}), 'both controllers replaced');
is(pids($st, 'injector'), join(',', "0:$before{injector}{0}"),
    'the injector kept its pid');
is(slots($st, 'queue_runner')->{$_}, $before{queue_runner}{$_},
    "queue_runner/$_ kept its pid") for 0 .. 2;
my @events = map { /(controller\/\d) \(pid \d+\) (replaced|spawned)/ ? "$1 $2" : () }
    log_lines(qr/controller\/\d \(pid \d+\) (replaced: its settings changed; it finishes its work in hand|spawned$)/);
@events = @events[-4 .. -1];
is_deeply(\@events, ['controller/0 replaced', 'controller/0 spawned',
    'controller/1 replaced', 'controller/1 spawned'],
    'one slot at a time') or diag(join("\n", @events));

# USR1 x 200 (and more, until the reader has read 101 times) under a
# reader parsing in a tight loop.
my $flag = $t->dir . '/reader.stop';
my $reader = fork // die "fork: $!";
if ($reader == 0) {
	my ($good, $bad) = (0, 0);
	my $path = $t->status_path;
	until (-e $flag) {
		my $text = do {
			local $/;
			my $fh;
			open($fh, '<', $path) ? <$fh> : undef;
		};
		if (defined $text && eval { decode_json($text); 1 }) {
			$good++;
		} else {
			$bad++;
		}
		# The storm goes on until this many reads met it, however
		# slowly a loaded machine lets this loop go round.
		if ($good + $bad == 101) {
			open(my $fh, '>', "$flag.101") or POSIX::_exit(1);
			close $fh;
		}
	}
	open(my $out, '>', "$flag.result") or POSIX::_exit(1);
	print {$out} "$good $bad\n";
	close $out;
	POSIX::_exit(0);
}
my $writes = scalar(log_lines(qr/master notice: status: /));
for (my $i = 0; $i < 200 || (!-e "$flag.101" && $i < 20000); $i++) {
	kill 'USR1', $master;
	sleep 0.003;
}
ok($t->wait_for('the USR1 lines', 10, sub {
	scalar(log_lines(qr/master notice: status: /)) > $writes + 20;
}), 'USR1 writes and logs the counts');
sleep 0.2;
open(my $fh, '>', $flag) or die;
close $fh;
waitpid($reader, 0);
open($fh, '<', "$flag.result") or die "no reader result";
my ($good, $bad) = split ' ', <$fh>;
close $fh;
cmp_ok($good, '>', 100, "the reader parsed the file $good times");
is($bad, 0, 'and never saw invalid JSON');
($line) = log_lines(qr/master notice: status: /);
like($line, qr/status: queue_runner 3\/3 \(idle \d+, busy \d+, starting \d+, stopping \d+, restarts 0\), injector 1\/1 .*, controller 2\/2 /,
    'one line of per-pool counts');
my @tmp = glob($t->status_path . '.*');
is(scalar(@tmp), 0, 'no temporary file left behind');

# USR2 after rotation: master and children write to the new file.
my $log = $t->log_path;
rename($log, "$log.1") or die "rename: $!";
kill 'USR2', $master;
ok($t->wait_for_log(qr/master notice: log file reopened$/, 5, $log),
    'the master reopened its log');
$st = $t->status_json;
my @kids = map { $_->{pid} } @{ $st->{children} };
ok($t->wait_for('the children to reopen', 5, sub {
	for my $pid (@kids) {
		my @fds = map { readlink($_) // '' } glob("/proc/$pid/fd/*");
		return 0 if grep { $_ eq "$log.1" } @fds;
		return 0 unless grep { $_ eq $log } @fds;
	}
	1;
}), 'every child holds the new file, none the old one');

is($t->stop($master, 'TERM', 15), 0, 'TERM: exit 0');
done_testing();
