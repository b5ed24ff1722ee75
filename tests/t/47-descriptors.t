#!/usr/bin/perl
# Descriptors: the master works out how many descriptors a child of the INI
# needs (a Controller keeps a connection per gearmand for each of its
# concurrency slots) and either raises its soft RLIMIT_NOFILE to that, or,
# when the hard limit is lower, refuses the INI with the number needed: at
# start (EX_CONFIG) and at HUP (the old configuration kept). Never a
# Controller that starts and then fails job after job with EMFILE.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 1);
my $bin = $t->build_path('garivini');

# The master under a shell that set the limits first: "ulimit -n N" sets
# soft and hard, "ulimit -Sn N" the soft one alone.
sub master_under {
	my ($ulimit, $ini) = @_;
	return $t->spawn({ name => 'master' }, '/bin/sh', '-c',
	    "$ulimit && exec \"\$0\" -c \"\$1\"", $bin, $ini);
}

sub soft_nofile {
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/limits") or return undef;
	while (<$fh>) {
		return $1 if /^Max open files\s+(\d+)/;
	}
	return undef;
}

sub child_pid {
	my ($pool) = @_;
	my $st = $t->status_json or return undef;
	my ($c) = grep { $_->{pool} eq $pool && $_->{pid} }
	    @{ $st->{children} };
	return $c ? $c->{pid} : undef;
}

# 1. soft = hard = 256, 300 jobs at once in a Controller: refused, with the
# number needed and the limit, before any child starts.
my $ini = $t->write_ini('controller.concurrency' => 300);
my $m = master_under('ulimit -n 256', $ini);
my $code = $t->wait_exit($m, 20);
is($code, 78, 'refused with EX_CONFIG');
$t->stop($m, 'TERM', 30) unless defined $code;
my $line = $t->wait_for_log(qr/needs \d+ open files/, 5);
like($line // '', qr/controller needs (\d+) open files .* limit is 256/,
    'the log names the number needed and the limit');
my ($need) = ($line // '') =~ /needs (\d+) open files/;
cmp_ok($need // 0, '>', 900, 'three hundred slots need more than 900');
ok(!-e $t->pid_path, 'no master left behind');

# garivini -t says so too, under the same limits.
my ($tcode, undef, $terr) = $t->run('/bin/sh', '-c',
    "ulimit -n 256 && exec \"\$0\" -t -c \"\$1\"", $bin, $ini);
is($tcode, 78, '-t refuses it too');
like($terr, qr/controller needs \d+ open files .* limit is 256/,
    'with the number needed');

# 2. soft 256, hard high: the master raises the soft limit, and its
# children have it.
$m = master_under('ulimit -Sn 256', $ini);
$t->wait_pools;
my $ctl;
ok($t->wait_for('a Controller', 20, sub { $ctl = child_pid('controller') }),
    'the pools start');
cmp_ok(soft_nofile($m) // 0, '>=', $need, "the master's soft limit was "
    . "raised to what the INI needs ($need)");
cmp_ok(soft_nofile($ctl) // 0, '>=', $need, "the Controller's too");
ok($t->wait_for_log(qr/raised the open files limit from 256 to \d+/, 5),
    'and the log says so');

# 3. A HUP to an INI that needs more than the hard limit: refused, the old
# configuration kept; a HUP to one that fits applies.
is($t->stop($m, 'TERM', 30), 0, 'stopped');
$ini = $t->write_ini('controller.concurrency' => 64);
$m = master_under('ulimit -n 1024', $ini);
$t->wait_pools;
$ctl = child_pid('controller');
$t->write_ini('controller.concurrency' => 1024);
kill 'HUP', $m;
ok($t->wait_for_log(qr/reload failed, keeping the old configuration: a /
    . qr/controller needs \d+ open files .* limit is 1024/, 10),
    'a reload past the hard limit fails and says why');
ok($t->wait_for('the status file', 10, sub {
	my $r = (($t->status_json // {})->{master} // {})->{last_reload};
	$r && $r->{result} eq 'failed' && $r->{error} =~ /needs \d+ open/ }),
    'the status file says so');
is(child_pid('controller'), $ctl, 'the Controller was left alone');
$t->write_ini('controller.concurrency' => 128);
kill 'HUP', $m;
ok($t->wait_for_log(qr/reload done, generation 2/, 10),
    'a reload within it applies');
is($t->stop($m, 'TERM', 30), 0, 'stopped');

done_testing();
