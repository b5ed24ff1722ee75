#!/usr/bin/perl
# What a Controller's slots cost when nothing is running. Threads: with the
# default 8 MB stack, 1,025 threads reserved 8.4 GB of address space, and
# under ulimit -v only a part of them started; the Controller then exited
# EX_OSERR and was respawned in a loop. Now concurrency 1024 starts under a
# 4 GB address space, and a limit that stops some threads is a configuration
# error (EX_CONFIG, the threads started and asked for named), not a crash.
# Memory: a slot kept the largest document it ever carried, so slots that
# once ran 16 MB jobs held 16 MB each for good; an idle slot now keeps little.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 1);
my $bin = $t->build_path('garivini');
# ASan keeps freed memory in quarantine (RSS would not fall) and reserves
# terabytes of shadow (ulimit -v cannot apply).
my $asan = `nm -D $bin 2>/dev/null` =~ /__asan_init/ ? 1 : 0;

sub vm {
	my ($pid, $key) = @_;
	open(my $fh, '<', "/proc/$pid/status") or return undef;
	while (<$fh>) {
		return $1 if /^\Q$key\E:\s+(\d+) kB/;
	}
	return undef;
}

sub controller_under {
	my ($ulimit, $ini) = @_;
	return $t->spawn({ name => 'controller',
	    env => { ASAN_OPTIONS => join(':', grep { defined && length }
	    $ENV{ASAN_OPTIONS}, 'quarantine_size_mb=0',
	    'thread_local_quarantine_size_kb=0') } },
	    '/bin/sh', '-c', "$ulimit exec \"\$0\" --role controller -c \"\$1\"",
	    $bin, $ini);
}

# 1. Threads under an address space limit.
SKIP: {
	skip 'ASan reserves terabytes of address space: no ulimit -v', 4
	    if $asan;
	my $ini = $t->write_ini('controller.concurrency' => 1024,
	    file => 'c1024.ini');
	my $c = controller_under('ulimit -v 4194304;', $ini);
	ok($t->wait_for_log(qr/\[$c\] .*1024 jobs at a time/, 30),
	    'concurrency 1024 starts under a 4 GB address space');
	ok($t->running($c), 'and runs');
	$t->stop($c, 'TERM', 30);

	# A limit that leaves room for the process but not for its threads.
	my $small = $t->write_ini('controller.concurrency' => 1,
	    file => 'c1.ini');
	$c = controller_under('', $small);
	$t->wait_for_log(qr/\[$c\] .*1 jobs at a time/, 30);
	my $base = vm($c, 'VmSize');
	$t->stop($c, 'TERM', 30);
	$c = controller_under('ulimit -v ' . ($base + 65536) . ';', $ini);
	is($t->wait_exit($c, 30), 78, 'a limit that stops some threads: '
	    . 'EX_CONFIG, not a crash to respawn');
	like($t->wait_for_log(qr/\[$c\] .*threads/, 5) // '',
	    qr/started \d+ of the 1025 threads/,
	    'the log names the threads started and asked for');
}

# 2. Six 16 MB jobs over eight slots (each job's copy through gearmand
# takes seconds, so they overlap); then the Controller's RSS falls back
# near what it was before.
my $ini = $t->write_ini('controller.concurrency' => 8,
    'controller.job_timeout' => 120, 'queue_runner.lease_seconds' => 120);
my $c = controller_under('', $ini);
my @roles = map { $t->spawn($bin, '--role', $_, '-c', $ini) }
    qw(queue_runner);
$t->wait_for_log(qr/\[$c\] .*8 jobs at a time/, 30);
my $before = vm($c, 'VmRSS');
my $ran = $t->dir . '/ran.txt';
my @workers = $t->perl_workers(6, $ran, [big => 1]);
for my $i (1 .. 6) {
	$t->insert_job(1, funcname => 'big', flag => 'controller',
	    arg => sprintf('%03d ', $i) . ('x' x 16_000_000));
}
ok($t->wait_for('the six jobs to run', 300, sub {
	@{ $t->perl_worker_runs($ran) } >= 6 && $t->count(1) == 0 }),
    'six 16 MB jobs ran');
my $after;
ok($t->wait_for('the RSS to fall', 30, sub {
	$after = vm($c, 'VmRSS');
	$after < $before + 64 * 1024 }),
    'the idle slots keep little: VmRSS ' . int($before / 1024) . ' MB '
    . 'before, ' . int(($after // 0) / 1024) . ' MB after (at most 64 MB '
    . 'more)');
diag('VmRSS before ' . int($before / 1024) . ' MB, after '
    . int(($after // 0) / 1024) . ' MB');

$t->stop($_, 'TERM', 30) for @workers, @roles, $c;
done_testing();
