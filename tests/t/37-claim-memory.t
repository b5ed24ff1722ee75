#!/usr/bin/perl
# A claim reads the payloads of its rows, and a batch of rows with args at
# the 16 MB limit used to be read whole: 1,000 of them are 16 GB, and after
# the OOM kill the same rows came first again. Claims now stay within
# [queue_runner] batch_max_bytes (default 64 MiB) of args: 10 rows of
# 16,000,000 bytes all run, once, and the QueueRunner's peak RSS stays within
# a few times the budget (it peaked at 1854 MiB with 40 rows before). A row
# larger than the budget is sent alone, and the log says so, once per job.
# Only 10 rows: gearmand 1.1.20 takes about 10 s to receive each 16 MB job.
use strict;
use warnings;
use Test::More;
use File::Basename qw(basename);
use GvTest;

my $t = GvTest->new(dbs => 1);
my $dir = $t->dir;
my $row_bytes = 16_000_000;
my $mib = 1 << 20;

sub big_arg { sprintf('row %03d ', $_[0]) . ('x' x ($row_bytes - 8)) }

# The jobs gv_consume started: only the head and the length of each arg
# are kept.
sub ran {
	my ($file) = @_;
	my %n;
	$n{ substr($_->{arg}, 0, 7) . ' ' . length($_->{arg}) }++
	    for @{ $t->consume_runs($file) };
	return \%n;
}

sub peak_rss_mib {
	my ($pid) = @_;
	open(my $st, '<', "/proc/$pid/status") or return undef;
	my ($kb) = map { /^VmHWM:\s+(\d+) kB/ ? $1 : () } <$st>;
	close $st;
	return defined $kb ? $kb / 1024 : undef;
}

# --- 10 rows at the limit, the default budget --------------------------------
my $n = 10;
$t->insert_job(1, funcname => 'big', arg => big_arg($_)) for 1 .. $n;
is($t->count(1), $n, "$n rows of $row_bytes bytes stored");
my $ini = $t->write_ini('queue_runner.lease_seconds' => 300);
my $out = "$dir/ran-big.txt";
my $consumer = $t->spawn($t->build_path('gv_consume'), '-c', $ini,
    '-f', 'big', '-o', $out);
# Under ASan (make sanitize) freed memory waits in a quarantine of 256 MiB
# that would count as the QueueRunner's: measure without it.
my %asan = (ASAN_OPTIONS => join(':', grep { defined && length }
    $ENV{ASAN_OPTIONS}, 'quarantine_size_mb=0'));
my $runner = $t->spawn({ env => \%asan }, $t->build_path('garivini'),
    '--role', 'queue_runner', '-c', $ini);
ok($t->wait_for('the big rows to run', 300, sub { $t->count(1) == 0 }),
    'every row ran and completed');
my $peak = peak_rss_mib($runner);
# Under ASan a realloc always copies and the shadow memory counts too: the
# same bound, doubled (the same build measured 371 MiB; 206 MiB without it).
my $bound = (4 * 64 + 64) * (basename(GvTest::build_dir()) =~ /asan/ ? 2 : 1);
ok(defined $peak && $peak < $bound, sprintf('the QueueRunner peaked at '
    . '%.0f MiB of RSS, under %d MiB (4 x batch_max_bytes + 64 MiB%s)',
    $peak // -1, $bound, $bound > 320 ? ', x 2 for ASan' : ''));
is($t->stop($runner, 'TERM', 20), 0, 'the QueueRunner stops');
$t->stop($consumer, 'TERM', 10);
my $ran = ran($out);
is_deeply($ran, { map { (sprintf('row %03d %d', $_, $row_bytes) => 1) }
    1 .. $n }, 'each ran once, with its whole arg');

# --- a budget smaller than one row ------------------------------------------
my @ids = map { $t->insert_job(1, funcname => 'over', arg => big_arg($_)) }
    1 .. 2;
$t->insert_job(1, funcname => 'over', arg => "small $_") for 1 .. 10;
my $small_ini = $t->write_ini(file => 'small.ini',
    'queue_runner.lease_seconds' => 300,
    'queue_runner.batch_max_bytes' => 1048576);
$out = "$dir/ran-over.txt";
$consumer = $t->spawn($t->build_path('gv_consume'), '-c', $small_ini,
    '-f', 'over', '-o', $out);
$runner = $t->spawn($t->build_path('garivini'), '--role', 'queue_runner',
    '-c', $small_ini);
ok($t->wait_for('the rows over the budget to run', 120,
    sub { $t->count(1) == 0 }), 'rows over the budget run, each alone');
is($t->stop($runner, 'TERM', 20), 0, 'the QueueRunner stops');
$t->stop($consumer, 'TERM', 10);
$ran = ran($out);
is(scalar(grep { $_ == 1 } values %$ran), 12, 'all 12 ran once');
my $said = GvTest::_read_file($t->log_path);
for my $id (@ids) {
	my @l = $said =~ /^.*job $id of database 1: its arg of $row_bytes bytes is over batch_max_bytes \(1048576\): sent alone$/mg;
	is(scalar(@l), 1, "job $id: over the budget, said once");
}

done_testing();
