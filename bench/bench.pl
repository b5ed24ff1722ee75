#!/usr/bin/perl
# bench.pl: the benchmarks of `make bench` (issue 5). Read bench/README.md.
#
# Starts a private MariaDB and gearmand through tests/lib/GvTest.pm, runs
# each scenario with the programs of build/ and build/bench/, and prints one
# table, the targets with PASS/MISS, a CPU breakdown and one JSON line per
# scenario. Every ratio is against a baseline measured in this same run, on
# the same servers.
#
# The headline ratios (throughput and low latency against gearmand, the
# drains against the 20,000-row one, records kept against none) are
# measured in BENCH_REPEATS rounds, each round running the baseline right
# before the scenarios it judges; the report gives each ratio's median over
# the rounds and its spread, and judges the targets on the median.
#
# Environment: BENCH_QUICK=1, BENCH_REPEATS, BENCH_BURSTS, BENCH_N, BENCH_LL_N,
# BENCH_BACKLOG, BENCH_FAIR_BACKLOG, BENCH_SECONDS, BENCH_WORKERS,
# BENCH_RUNNERS, BENCH_ONLY (comma-separated scenario names), GV_BUILD,
# GV_TEST_KEEP=1.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../tests/lib";

use GvTest;
use JSON::PP;
use POSIX qw(sysconf _SC_CLK_TCK);
use Time::HiRes qw(sleep time);

$| = 1;

my $QUICK = ($ENV{BENCH_QUICK} // '') eq '1';
my $N = $ENV{BENCH_N} // ($QUICK ? 10_000 : 100_000);
my $LL_N = $ENV{BENCH_LL_N} // ($QUICK ? 2_000 : 10_000);
my $SECONDS = $ENV{BENCH_SECONDS} // ($QUICK ? 5 : 15);
my $RATE = 200;
my $BACKLOG = $ENV{BENCH_BACKLOG} // ($QUICK ? 100_000 : 1_000_000);
my $BACKLOG_SMALL = 20_000;
my $DRAIN = $ENV{BENCH_DRAIN} // ($QUICK ? 20_000 : 50_000);
# Fair claims (issue 10): the many-functions drain spreads $BACKLOG rows
# over $MF_FUNCS functions; the fairness run puts a function with
# $FAIR_BACKLOG due rows and no worker at a watermark of $FAIR_WATERMARK;
# the round cost has $RC_FUNCS functions with $RC_ROWS due rows each.
my $MF_FUNCS = 100;
my $FAIR_BACKLOG = $ENV{BENCH_FAIR_BACKLOG} // ($QUICK ? 20_000 : 100_000);
my $FAIR_WATERMARK = 1000;
my $FAIR_P99_MS = 1000;
my $RC_FUNCS = 1000;
my $RC_ROWS = 5;
my $WORKERS = $ENV{BENCH_WORKERS} // 2;
# Slow jobs (issue 11): the jobs of 0.5 s on 20 workers.
my $SLOW_N = $ENV{BENCH_SLOW_N} // 400;
my $RUNNERS = $ENV{BENCH_RUNNERS} // 1;
# Low-latency pools; the memory target is judged on the defaults only.
my $INJECTORS = $ENV{BENCH_INJECTORS} // 2;
my $CONTROLLERS = $ENV{BENCH_CONTROLLERS} // 2;
my $DEFAULT_POOLS = $INJECTORS == 2 && $CONTROLLERS == 2;
# A directory: record CPU profiles (perf record) of the processes of the
# throughput, low-latency and backlog runs there, with text reports.
my $PERF = $ENV{BENCH_PERF};
# Rounds of the repeated scenarios (headline ratios, drains, records), and
# bursts of N (BENCH_LL_N) jobs in one run of the throughput, gearmand
# memory-only and low-latency saturation scenarios, one after the other on
# the same processes. A quick run's bursts last about a second and their
# rates vary by 10% to 25% from one to the next; a burst costs little more
# than its jobs, a round of a quick run about 45 s. Low latency varies more
# from one master to the next than from one burst to the next, and the
# drains cannot be run in bursts: of the quick run's 10 minutes, more
# rounds buy more than more bursts. (The MySQL-queue baseline's one burst
# lasts 7 s.)
my $REPEATS = $ENV{BENCH_REPEATS} // ($QUICK ? 7 : 5);
my $BURSTS = $ENV{BENCH_BURSTS} // ($QUICK ? 2 : 1);
my %ONLY = map { $_ => 1 } grep { $_ ne '' } split /,/, $ENV{BENCH_ONLY} // '';
my $TICK = sysconf(_SC_CLK_TCK) || 100;
my $NCPU = do {
	open(my $fh, '<', '/proc/cpuinfo') or die "/proc/cpuinfo: $!\n";
	scalar grep { /^processor\s*:/ } <$fh>;
} || 1;

$DRAIN = $BACKLOG if $DRAIN > $BACKLOG;
for ([BENCH_N => $N], [BENCH_LL_N => $LL_N], [BENCH_SECONDS => $SECONDS],
    [BENCH_BACKLOG => $BACKLOG], [BENCH_FAIR_BACKLOG => $FAIR_BACKLOG],
    [BENCH_WORKERS => $WORKERS], [BENCH_SLOW_N => $SLOW_N],
    [BENCH_RUNNERS => $RUNNERS], [BENCH_INJECTORS => $INJECTORS],
    [BENCH_CONTROLLERS => $CONTROLLERS], [BENCH_REPEATS => $REPEATS],
    [BENCH_BURSTS => $BURSTS]) {
	die "$_->[0] must be a positive integer\n" unless $_->[1] =~ /^[1-9]\d*$/;
}

my $t = GvTest->new(dbs => 2, gearmands => 1, name => 'bench');
my $GARIVINI = $t->build_path('garivini');
my $WORKER = $t->build_path('bench/bench_worker');
my $CLIENT = $t->build_path('bench/bench_client');
my $DIR = $t->dir;
my $GM = '127.0.0.1:' . $t->gearmand_port(1);

# %res: each scenario's figures, the median run's for a repeated one
# (summarize sets them); %runs: every run of a scenario in the order run,
# each with its round (repeat) when it ran in rounds; @names: the scenarios
# in the order first run. $ROUND: the round under way, or undef.
# $SETTLED: what the wait before the step under way found (settle).
my (@json, %res, %runs, @names, $ROUND, $SETTLED);

sub note { print STDERR "bench: @_\n" }

# --- processes and their CPU ------------------------------------------

# utime + stime of a process (all its threads), in seconds; 0 when gone.
sub cpu_of {
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/stat") or return 0;
	my $s = <$fh>;
	close $fh;
	$s =~ s/^.*\)\s+//s;    # the command may hold spaces
	my @f = split ' ', $s;
	return ($f[11] + $f[12]) / $TICK;
}

# The pid and every descendant of it.
sub tree_pids {
	my ($root) = @_;
	my %kids;
	opendir(my $d, '/proc') or return ($root);
	for my $p (grep { /^\d+$/ } readdir $d) {
		open(my $fh, '<', "/proc/$p/stat") or next;
		my $s = <$fh>;
		close $fh;
		next unless defined $s;
		$s =~ s/^.*\)\s+//s;
		my @f = split ' ', $s;
		push @{ $kids{ $f[1] } }, $p;
	}
	closedir $d;
	my @all = ($root);
	for (my $i = 0; $i < @all; $i++) {
		push @all, @{ $kids{ $all[$i] } // [] };
	}
	return @all;
}

sub rss_kb {
	my ($pid, $field) = @_;
	my $file = $field eq 'Pss' ? "/proc/$pid/smaps_rollup" :
	    "/proc/$pid/status";
	open(my $fh, '<', $file) or return 0;
	while (my $line = <$fh>) {
		return $1 if $line =~ /^$field:\s+(\d+)\s+kB/;
	}
	return 0;
}

# Context switches (voluntary and not) of every thread of a process: each
# wait for a peer's answer (a round trip, an fsync) is one.
sub switches_of {
	my ($pid) = @_;
	my $n = 0;
	opendir(my $d, "/proc/$pid/task") or return 0;
	for my $tid (grep { /^\d+$/ } readdir $d) {
		open(my $fh, '<', "/proc/$pid/task/$tid/status") or next;
		while (my $line = <$fh>) {
			$n += $1 if $line =~ /^(?:non)?voluntary_ctxt_switches:\s+(\d+)/;
		}
		close $fh;
	}
	closedir $d;
	return $n;
}

# A snapshot of CPU seconds per component: { name => [pids] }; context
# switches under "name switches".
sub cpu_snapshot {
	my (%groups) = @_;
	my ($user, $sys) = times;
	my %snap = (' system' => system_busy(), ' at' => time,
	    ' driver' => $user + $sys);
	for my $g (keys %groups) {
		$snap{$g} = 0;
		$snap{"$g switches"} = 0;
		for my $pid (@{ $groups{$g} }) {
			$snap{$g} += cpu_of($pid);
			$snap{"$g switches"} += switches_of($pid);
		}
	}
	return \%snap;
}

# CPU seconds the whole machine was busy so far (every process, ours or
# not), from /proc/stat.
sub system_busy {
	open(my $fh, '<', '/proc/stat') or return 0;
	my ($cpu) = grep { /^cpu\s/ } <$fh>;
	close $fh;
	my (undef, $user, $nice, $sys, $idle, $iowait, $irq, $softirq, $steal) =
	    split ' ', $cpu;
	return ($user + $nice + $sys + $irq + $softirq + ($steal // 0)) / $TICK;
}

# CPU seconds used during a cpu_delta window by processes this benchmark
# does not account for (other programs on the machine), and the share of
# all CPUs they took. Workers and clients count through their own rusage,
# so call this after adding them.
sub foreign_cpu {
	my ($cpu, $ncpu) = @_;
	my $ours = 0;
	$ours += $cpu->{$_} for grep { !/ switches$/ && !/^ / } keys %$cpu;
	$ours += $cpu->{' driver'};
	my $other = $cpu->{' system'} - $ours;
	$other = 0 if $other < 0;
	my $wall = $cpu->{' at'} || 1;
	return { other_cpu_s => 0 + sprintf('%.2f', $other),
	    other_cpu_share => 0 + sprintf('%.3f', $other / $wall / $ncpu) };
}

# Context switches per job of each component, out of a cpu_delta.
sub switches_per_job {
	my ($cpu, $jobs) = @_;
	my %sw;
	for my $k (grep { / switches$/ } keys %$cpu) {
		(my $g = $k) =~ s/ switches$//;
		$sw{$g} = 0 + sprintf('%.2f', $cpu->{$k} / $jobs);
	}
	return \%sw;
}

sub cpu_delta {
	my ($a, $b) = @_;
	return { map { $_ => $b->{$_} - ($a->{$_} // 0) } keys %$b };
}

my @STATUS_VARS = qw(Questions Com_stmt_execute Com_commit Com_rollback
    Com_insert Com_delete Com_update Com_select Innodb_log_writes
    Innodb_data_fsyncs);

sub db_status {
	my ($dbh) = @_;
	my $rows = ($dbh // $t->dbh(1))->selectall_arrayref(
	    'SHOW GLOBAL STATUS');
	my %all = map { $_->[0] => $_->[1] } @$rows;
	return { map { $_ => $all{$_} // 0 } @STATUS_VARS };
}

# Per job: statements, commits, fsyncs, between two db_status snapshots.
sub db_per_job {
	my ($a, $b, $jobs) = @_;
	my %d = map { $_ => ($b->{$_} - $a->{$_}) / ($jobs || 1) } @STATUS_VARS;
	# Innodb_data_fsyncs counts the redo log's fsyncs too (10.11 has no
	# separate counter); Com_* count the statements of their kind, prepared
	# ones included (the round cost run shows Com_select following
	# Com_stmt_execute), and Com_stmt_execute the prepared ones.
	return {
		statements => 0 + sprintf('%.3f', $d{Questions}),
		stmt_executes => 0 + sprintf('%.3f', $d{Com_stmt_execute}),
		commits => 0 + sprintf('%.3f', $d{Com_commit}),
		rollbacks => 0 + sprintf('%.3f', $d{Com_rollback}),
		inserts => 0 + sprintf('%.3f', $d{Com_insert}),
		deletes => 0 + sprintf('%.3f', $d{Com_delete}),
		updates => 0 + sprintf('%.3f', $d{Com_update}),
		selects => 0 + sprintf('%.3f', $d{Com_select}),
		log_writes => 0 + sprintf('%.3f', $d{Innodb_log_writes}),
		fsyncs => 0 + sprintf('%.3f', $d{Innodb_data_fsyncs}),
	};
}

# --- profiles ---------------------------------------------------------

# perf record on each group of pids ({ name => [pids] }) until perf_stop.
sub perf_start {
	my ($tag, %groups) = @_;
	# One profile a scenario: the first round's.
	return [] unless $PERF && ($ROUND // 1) == 1;
	mkdir $PERF;
	my @p;
	for my $name (sort keys %groups) {
		my @pids = grep { $_ } @{ $groups{$name} } or next;
		my $data = "$PERF/$tag-$name.data";
		my $pid = $t->spawn({ name => "perf-$tag-$name" }, 'perf', 'record',
		    '-e', 'cpu-clock', '-F', '999', '--call-graph', 'dwarf,16384',
		    '-o', $data, '-p', join(',', @pids));
		push @p, [$pid, $data];
		# System calls: each round trip costs a send and a receive.
		push @p, [$t->spawn({ name => "perf-stat-$tag-$name" }, 'perf',
		    'stat', '-e', 'raw_syscalls:sys_enter,context-switches',
		    '-o', "$PERF/$tag-$name.stat", '-p', join(',', @pids)), undef];
	}
	sleep 0.5;    # perf attaches
	return \@p;
}

sub perf_stop {
	my ($p) = @_;
	for (@$p) {
		my ($pid, $data) = @$_;
		kill 'INT', $pid;
		$t->wait_exit($pid, 120);
		next unless defined $data;
		(my $txt = $data) =~ s/\.data$/.txt/;
		system("perf report -i '$data' --stdio --no-children "
		    . "--percent-limit 0.5 -g none --sort dso,symbol "
		    . ">'$txt' 2>/dev/null");
		(my $tree = $data) =~ s/\.data$/.callers.txt/;
		system("perf report -i '$data' --stdio --children "
		    . "--percent-limit 2 -g caller,0.5,callee --sort symbol "
		    . ">'$tree' 2>/dev/null");
	}
}

# --- gearman admin (also for the gearmand this driver starts itself) ---

sub gm_status {
	my ($server) = @_;
	return GvTest::gearman_status_at(split /:/, $server) // {};
}

sub wait_until {
	my ($what, $timeout, $cond) = @_;
	my $deadline = time + $timeout;
	until ($cond->()) {
		die "bench: timed out after $timeout s waiting for $what\n"
		    if time > $deadline;
		sleep 0.02;
	}
}

# --- workers ----------------------------------------------------------

my $NWORKER = 0;

# %o: mode, func (one, or a list: a,b,c), server, ini; processes (else
# BENCH_WORKERS), and for slow jobs threads and job_ms (bench_worker -t, -s).
sub start_workers {
	my (%o) = @_;
	my @funcs = split /,/, $o{func};
	my $procs = $o{processes} // $WORKERS;
	my $conns = $procs * ($o{threads} // 1);
	my @w;
	for (1 .. $procs) {
		my $n = ++$NWORKER;
		my %f = map { $_ => "$DIR/worker$n.$_" } qw(progress summary records);
		my @cmd = ($WORKER, '-m', $o{mode}, '-f', $o{func}, '-g',
		    $o{server}, '-p', $f{progress}, '-o', $f{summary}, '-r',
		    $f{records});
		push @cmd, '-c', $o{ini} if $o{ini};
		push @cmd, '-t', $o{threads} if $o{threads};
		push @cmd, '-s', $o{job_ms} if $o{job_ms};
		unlink $f{progress};
		my $pid = $t->spawn({ name => "worker$n" }, @cmd);
		push @w, { pid => $pid, %f };
	}
	wait_until("$conns workers of " . (@funcs == 1 ? $o{func} :
	    @funcs . ' functions'), 30, sub {
		return 0 if grep { !-s $_->{progress} } @w;
		my $st = gm_status($o{server});
		return !grep { ($st->{$_}{workers} // 0) < $conns } @funcs;
	});
	return \@w;
}

sub progress {
	my ($w) = @_;
	my $sum = 0;
	for (@$w) {
		open(my $fh, '<', $_->{progress}) or next;
		my $b = '';
		sysread($fh, $b, 8);
		close $fh;
		$sum += unpack('Q<', $b) if length $b == 8;
	}
	return $sum;
}

sub wait_progress {
	my ($w, $target, $timeout, $what) = @_;
	my $deadline = time + $timeout;
	my ($last, $since) = (-1, time);
	while ((my $p = progress($w)) < $target) {
		die "bench: $what: $p of $target jobs after $timeout s\n"
		    if time > $deadline;
		($last, $since) = ($p, time) if $p != $last;
		die "bench: $what: stuck at $p of $target jobs for 30 s\n"
		    if time - $since > 30;
		sleep 0.01;
	}
}

# Stop the workers; returns { jobs, errors, cpu, records => [[start, done,
# latency], ...] sorted by done }.
sub stop_workers {
	my ($w) = @_;
	my %r = (jobs => 0, errors => 0, cpu => 0, switches => 0,
	    records => []);
	kill 'TERM', map { $_->{pid} } @$w;
	for my $x (@$w) {
		my $code = $t->wait_exit($x->{pid}, 30);
		die "bench: worker $x->{pid} exited with " . ($code // 'nothing')
		    . "\n" unless defined $code && $code == 0;
		open(my $fh, '<', $x->{summary}) or die "$x->{summary}: $!\n";
		my %s = split ' ', scalar <$fh>;
		close $fh;
		$r{jobs} += $s{jobs};
		$r{errors} += $s{errors};
		$r{cpu} += $s{utime} + $s{stime};
		$r{switches} += $s{switches};
		open($fh, '<:raw', $x->{records}) or die "$x->{records}: $!\n";
		local $/;
		my @d = unpack('d*', <$fh> // '');
		close $fh;
		push @{ $r{records} }, [@d[$_ * 3 .. $_ * 3 + 2]]
		    for 0 .. @d / 3 - 1;
	}
	@{ $r{records} } = sort { $a->[1] <=> $b->[1] } @{ $r{records} };
	return \%r;
}

sub run_client {
	my (@args) = @_;
	my ($code, $out, $err) = $t->run({ timeout => 1200 }, $CLIENT, @args);
	die "bench: $DIR was removed while the benchmark ran (by another "
	    . "program?)\n" unless -d $DIR;
	die "bench: bench_client @args: exit " . ($code // 'timeout')
	    . "\n$err" unless defined $code && $code == 0;
	my %s = split ' ', $out;
	$s{cpu} = $s{utime} + $s{stime};
	return \%s;
}

# $bursts runs of bench_client @args (each of $n jobs), each once the
# workers $w have done the jobs of the ones before; the client's summaries.
sub client_bursts {
	my ($w, $n, $bursts, $what, $timeout, @args) = @_;
	my @c;
	for my $b (1 .. $bursts) {
		push @c, run_client(@args);
		wait_progress($w, $n * $b, $timeout, $what);
	}
	return \@c;
}

# Out of the bursts' client summaries and each burst's seconds: all the
# jobs (n a burst) over the sum of the bursts' seconds; each burst's rate;
# the client's CPU, context switches and submit (insert, inject) rate.
sub burst_figures {
	my ($c, $seconds, $n) = @_;
	my (%f, $submit);
	for my $i (0 .. $#$c) {
		$f{seconds} += $seconds->[$i];
		push @{ $f{burst_jobs_per_s} },
		    0 + sprintf('%.1f', $n / $seconds->[$i]);
		$submit += $c->[$i]{last} - $c->[$i]{first};
		$f{cpu} += $c->[$i]{cpu};
		$f{switches} += $c->[$i]{switches};
	}
	$f{jobs} = $n * @$c;
	$f{jobs_per_s} = $f{jobs} / $f{seconds};
	$f{submit_per_s} = $f{jobs} / $submit;
	# What a run's record says of its bursts.
	$f{record} = @$c > 1 ? [bursts => scalar @$c, burst_jobs => $n,
	    burst_jobs_per_s => $f{burst_jobs_per_s}] : [];
	return \%f;
}

# Each burst's seconds, from its first submit to its last job done, out of
# the workers' records (sorted by done; a burst starts once the one before
# is done, so burst b is the b-th n of them).
sub burst_seconds {
	my ($c, $records, $n) = @_;
	return [map { $records->[($_ + 1) * $n - 1][1] - $c->[$_]{first} }
	    0 .. $#$c];
}

# --- statistics -------------------------------------------------------

sub pct {
	my ($sorted, $p) = @_;
	return undef unless @$sorted;
	my $i = int($p / 100 * @$sorted + 0.5) - 1;
	$i = 0 if $i < 0;
	$i = $#$sorted if $i > $#$sorted;
	return $sorted->[$i];
}

sub latency_ms {
	my ($records) = @_;
	my @l = sort { $a <=> $b } map { $_->[2] * 1000 }
	    grep { $_->[2] == $_->[2] } @$records;    # NaN != NaN
	return {} unless @l;
	return { samples => scalar @l, p50 => pct(\@l, 50), p90 => pct(\@l, 90),
	    p99 => pct(\@l, 99), max => $l[-1] };
}

sub cpu_per_1k {
	my ($cpu, $jobs) = @_;
	my @k = grep { defined $cpu->{$_} && !/ switches$/ && !/^ / }
	    keys %$cpu;
	my %c = map { $_ => 0 + sprintf('%.3f', $cpu->{$_} * 1000 / $jobs) } @k;
	my $total = 0;
	$total += $cpu->{$_} for @k;
	$c{total} = 0 + sprintf('%.3f', $total * 1000 / $jobs);
	return \%c;
}

# One run of scenario $name. In rounds, the run carries its round
# (repeat); summarize turns the runs of a scenario into its figures.
sub record {
	my ($name, %r) = @_;
	$r{repeat} = $ROUND if defined $ROUND;
	$r{settled} = $SETTLED if $SETTLED;
	push @names, $name unless $runs{$name};
	push @{ $runs{$name} }, \%r;
	$res{$name} = \%r;
	my $msg = $r{jobs_per_s} ?
	    sprintf('%-22s %9.0f jobs/s', $name, $r{jobs_per_s}) : $name;
	$msg .= sprintf('  p50 %.2f ms  p99 %.2f ms', $r{latency_ms}{p50},
	    $r{latency_ms}{p99}) if $r{latency_ms} && defined $r{latency_ms}{p50};
	$msg .= ' (bursts: ' . join(' ', map { sprintf('%.0f', $_) }
	    @{ $r{burst_jobs_per_s} }) . ')' if $r{burst_jobs_per_s};
	$msg .= sprintf('  (round %d of %d; before it %.1f s to settle, CPUs '
	    . '%.0f%% busy)', $ROUND, $REPEATS, $SETTLED->{seconds},
	    100 * $SETTLED->{cpu_busy}) if $SETTLED && $REPEATS > 1;
	note($msg);
}

# InnoDB's undo history not yet purged (rows deleted or updated by
# transactions since committed), and its dirty pages.
sub innodb_backlog {
	# The test account lacks the PROCESS privilege this needs.
	my $st = $t->_admin_dbh->selectall_arrayref('SHOW ENGINE INNODB STATUS');
	my ($hist) = $st->[0][2] =~ /History list length (\d+)/;
	my (undef, $dirty) = $t->dbh(1)->selectrow_array(
	    "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'");
	return ($hist // 0, $dirty // 0);
}

# Before a run in rounds: wait until the CPUs have been at most
# $SETTLE_BUSY busy for a quarter of a second and InnoDB has purged the
# history of the runs before (at most $SETTLE_MAX seconds: while another
# program keeps the CPUs busy, waiting longer buys nothing and makes the
# quick run longer when it is already slower), so that what one run left
# behind does not weigh on the next. Sets $SETTLED to what it found.
my $SETTLE_MAX = 1;
my $SETTLE_BUSY = 0.15;
sub settle {
	my $t0 = time;
	my ($share, $hist, $dirty);
	while (1) {
		my ($b0, $w0) = (system_busy(), time);
		sleep 0.25;
		$share = (system_busy() - $b0) / (time - $w0) / $NCPU;
		($hist, $dirty) = innodb_backlog();
		last if ($share <= $SETTLE_BUSY && $hist < 1000)
		    || time - $t0 >= $SETTLE_MAX;
	}
	$SETTLED = { seconds => 0 + sprintf('%.1f', time - $t0),
	    cpu_busy => 0 + sprintf('%.2f', $share), innodb_history => $hist,
	    innodb_dirty_pages => $dirty };
}

# Run the steps (subs) in BENCH_REPEATS rounds, in the order given: a
# baseline comes right before the scenarios it judges, so that each pair
# meets the same machine (other programs, InnoDB's background work) and a
# ratio is taken within one round.
sub rounds {
	my (@steps) = @_;
	return unless @steps;
	for my $k (1 .. $REPEATS) {
		$ROUND = $k;
		note("round $k of $REPEATS") if $REPEATS > 1;
		for (@steps) {
			settle();
			$_->();
		}
	}
	($ROUND, $SETTLED) = (undef, undef);
}

sub want { !%ONLY || $ONLY{ $_[0] } }

# --- the configuration ------------------------------------------------

# Throughput runs: one database (gv2 holds gearmand's own queue), batches of
# 1000, a lease no run outlasts.
sub tp_ini {
	my ($file, %over) = @_;
	return $t->write_ini(file => $file, 'db.2' => undef,
	    'garivini.log_level' => 'notice',
	    'queue_runner.batch_max_size' => 1000,
	    'queue_runner.lease_seconds' => 300, %over);
}

sub start_runners {
	my ($ini, $n) = @_;
	$n //= $RUNNERS;
	return [map { $t->spawn({ name => "queue_runner" }, $GARIVINI,
	    '--role', 'queue_runner', '-c', $ini) } 1 .. $n];
}

sub stop_pids {
	my ($pids) = @_;
	kill 'TERM', @$pids;
	$t->wait_exit($_, 30) for @$pids;
}

sub empty_table { $t->dbh(1)->do('TRUNCATE TABLE job') }

# --- scenarios --------------------------------------------------------

# Background jobs straight to a gearmand, drained by the same C workers with
# no database work: the baselines. End to end = first submit to last job done.
sub gearman_baseline {
	my ($name, $server, $gm_pid, $func, $bursts) = @_;
	note("$name: " . ($bursts > 1 ? "$bursts bursts of " : '')
	    . "$N background jobs through gearmand $server");
	my $w = start_workers(mode => 'raw', func => $func, server => $server);
	my $c0 = cpu_snapshot(gearmand => [$gm_pid], mariadbd => [$t->mariadb_pid]);
	my $s0 = db_status();
	my $c = client_bursts($w, $N, $bursts, $name, 600, 'gearman', '-g',
	    $server, '-f', $func, '-n', $N, '-b', 1000);
	my $c1 = cpu_snapshot(gearmand => [$gm_pid], mariadbd => [$t->mariadb_pid]);
	my $s1 = db_status();
	my $r = stop_workers($w);
	my $f = burst_figures($c, burst_seconds($c, $r->{records}, $N), $N);
	my $jobs = $f->{jobs};
	my $cpu = cpu_delta($c0, $c1);
	$cpu->{workers} = $r->{cpu};
	$cpu->{client} = $f->{cpu};
	$cpu->{'workers switches'} = $r->{switches};
	$cpu->{'client switches'} = $f->{switches};
	record($name, jobs => $jobs, jobs_per_s => $f->{jobs_per_s},
	    submit_per_s => $f->{submit_per_s},
	    @{ $f->{record} },
	    cpu_s_per_1k => cpu_per_1k($cpu, $jobs),
	    machine => foreign_cpu($cpu, $NCPU),
	    switches_per_job => switches_per_job($cpu, $jobs),
	    db_per_job => db_per_job($s0, $s1, $jobs),
	    worker_errors => $r->{errors});
}

sub scenario_gearmand_memory {
	gearman_baseline('gearmand_memory', $GM, $t->gearmand_pid(1), 'bench_mem',
	    $BURSTS);
}

# A gearmand of this driver's own, named $name, with @args beyond the
# usual ones; returns its pid and HOST:PORT once it answers.
sub start_own_gearmand {
	my ($name, @args) = @_;
	my $port = GvTest::_free_port();
	my $pid = $t->spawn({ name => $name }, GvTest::gearmand_command(
	    port => $port, log => "$DIR/$name.log",
	    pidfile => "$DIR/$name.pid", args => \@args));
	wait_until("gearmand ($name)", 30, sub {
		die "bench: gearmand ($name) exited\n" unless $t->running($pid);
		return GvTest::_gearman_ready('127.0.0.1', $port, 1);
	});
	return ($pid, "127.0.0.1:$port");
}

# gearmand 1.1.20 with its MySQL persistent queue (table gearman_queue,
# which it creates: one INSERT per job submitted, one DELETE per job done,
# each its own transaction) in database gv2 of the same MariaDB.
sub scenario_gearmand_mysql {
	my ($pid, $server) = start_own_gearmand('gearmand-mysql',
	    '--queue-type=MySQL',
	    '--mysql-host=' . $t->db_host, '--mysql-port=' . $t->db_port,
	    '--mysql-user=' . $t->db_user, '--mysql-password=' . $t->db_password,
	    '--mysql-db=' . $t->db_name(2), '--mysql-table=gearman_queue');
	gearman_baseline('gearmand_mysql', $server, $pid, 'bench_mysql', 1);
	my ($left) = $t->dbh(2)->selectrow_array(
	    'SELECT COUNT(*) FROM gearman_queue');
	$res{gearmand_mysql}{rows_left} = $left + 0;
	$t->stop($pid, 'TERM', 15);
}

# Throughput mode end to end: N rows inserted with gv_insert_jobs (batches of
# 1000) while QueueRunner(s) and the C workers (gv_complete_job per job)
# drain them. First insert to the last completion (the table is then empty).
# %o (the cluster run): name, ini, dbh (the database the ini names),
# mariadbd (its server pids).
sub scenario_throughput {
	my (%o) = @_;
	my $name = $o{name} // 'throughput';
	my $dbh = $o{dbh} // $t->dbh(1);
	my $ini = $o{ini} //
	    tp_ini('tp.ini', 'queue_runner.batch_run_sleep' => 0.01);
	$dbh->do('TRUNCATE TABLE job');
	note("$name: " . ($BURSTS > 1 ? "$BURSTS bursts of " : '')
	    . "$N jobs, $RUNNERS QueueRunner(s), $WORKERS workers");
	my $w = start_workers(mode => 'complete', func => 'bench_tp',
	    server => $GM, ini => $ini);
	my $runners = start_runners($ini);
	sleep 0.3;
	my %g = (gearmand => [$t->gearmand_pid(1)],
	    mariadbd => $o{mariadbd} // [$t->mariadb_pid],
	    queue_runner => $runners);
	my $prof = perf_start($name, %g,
	    workers => [map { $_->{pid} } @$w]);
	my $c0 = cpu_snapshot(%g);
	my $s0 = db_status($dbh);
	my $c = client_bursts($w, $N, $BURSTS, $name, 900, 'insert', '-c',
	    $ini, '-f', 'bench_tp', '-n', $N, '-b', 1000);
	my $c1 = cpu_snapshot(%g);
	my $s1 = db_status($dbh);
	perf_stop($prof);
	stop_pids($runners);
	my $r = stop_workers($w);
	my ($left) = $dbh->selectrow_array('SELECT COUNT(*) FROM job');
	my $f = burst_figures($c, burst_seconds($c, $r->{records}, $N), $N);
	my $jobs = $f->{jobs};
	my $cpu = cpu_delta($c0, $c1);
	$cpu->{workers} = $r->{cpu};
	$cpu->{client} = $f->{cpu};
	$cpu->{'workers switches'} = $r->{switches};
	$cpu->{'client switches'} = $f->{switches};
	record($name, jobs => $jobs, jobs_per_s => $f->{jobs_per_s},
	    insert_per_s => $f->{submit_per_s},
	    seconds => $f->{seconds}, rows_left => $left + 0,
	    @{ $f->{record} },
	    runners => $RUNNERS, batch_run_sleep => 0.01,
	    cpu_s_per_1k => cpu_per_1k($cpu, $jobs),
	    machine => foreign_cpu($cpu, $NCPU),
	    switches_per_job => switches_per_job($cpu, $jobs),
	    db_per_job => db_per_job($s0, $s1, $jobs),
	    worker_errors => $r->{errors});
}

# Throughput mode at a fixed 200 jobs/s, one gv_insert_job per job,
# batch_run_sleep = 0.05: insert to worker start.
sub scenario_throughput_latency {
	my $ini = tp_ini('tplat.ini', 'queue_runner.batch_run_sleep' => 0.05);
	empty_table();
	my $n = $RATE * $SECONDS;
	note("throughput latency: $n jobs at $RATE/s");
	my $w = start_workers(mode => 'complete', func => 'bench_tplat',
	    server => $GM, ini => $ini);
	my $runners = start_runners($ini, 1);
	sleep 0.3;
	my %g = (gearmand => [$t->gearmand_pid(1)],
	    mariadbd => [$t->mariadb_pid], queue_runner => $runners);
	my $c0 = cpu_snapshot(%g);
	my $s0 = db_status();
	my $c = run_client('insert', '-c', $ini, '-f', 'bench_tplat', '-n', $n,
	    '-r', $RATE);
	wait_progress($w, $n, 120, 'throughput latency');
	my $c1 = cpu_snapshot(%g);
	my $s1 = db_status();
	stop_pids($runners);
	my $r = stop_workers($w);
	my $cpu = cpu_delta($c0, $c1);
	$cpu->{workers} = $r->{cpu};
	$cpu->{client} = $c->{cpu};
	$cpu->{'workers switches'} = $r->{switches};
	$cpu->{'client switches'} = $c->{switches};
	record('throughput_latency', jobs => $n,
	    jobs_per_s => $n / ($r->{records}[-1][1] - $c->{first}),
	    latency_ms => latency_ms($r->{records}),
	    schedule_behind_ms => $c->{behind} * 1000, batch_run_sleep => 0.05,
	    cpu_s_per_1k => cpu_per_1k($cpu, $n),
	    machine => foreign_cpu($cpu, $NCPU),
	    switches_per_job => switches_per_job($cpu, $n),
	    db_per_job => db_per_job($s0, $s1, $n),
	    worker_errors => $r->{errors});
}

# The children of a master by pool, from its status file.
sub master_children {
	my ($master) = @_;
	kill 'USR1', $master;
	sleep 0.2;
	my $st = $t->status_json or return {};
	my %by;
	for my $c (@{ $st->{children} // [] }) {
		push @{ $by{ $c->{pool} } }, $c->{pid} if $c->{pid};
	}
	return \%by;
}

# The master (garivini -c INI, logging to $log, which INI names); returns
# its pid once it is ready and has the children %pools says (pool =>
# count), and its children by pool.
sub start_master {
	my ($ini, $log, %pools) = @_;
	unlink $log;
	my $master = $t->spawn({ name => 'garivini' }, $GARIVINI, '-c', $ini);
	# USR1 before the master has its handlers would kill it.
	wait_until('the master to be ready', 30, sub {
		die "bench: the master exited\n" unless $t->running($master);
		open(my $fh, '<', $log) or return 0;
		return scalar grep { /master notice: ready/ } <$fh>;
	});
	my $by;
	wait_until('the master and its children', 30, sub {
		$by = master_children($master);
		return !grep { @{ $by->{$_} // [] } != $pools{$_} } keys %pools;
	});
	return ($master, $by);
}

sub memory_of {
	my ($master) = @_;
	my @pids = tree_pids($master);
	my ($rss, $pss) = (0, 0);
	for my $pid (@pids) {
		$rss += rss_kb($pid, 'VmRSS');
		$pss += rss_kb($pid, 'Pss');
	}
	return { processes => scalar @pids, rss_mb => sprintf('%.1f',
	    $rss / 1024), pss_mb => sprintf('%.1f', $pss / 1024) };
}

# Low-latency mode through the master with its default pools (1 QueueRunner,
# 2 Injectors, 2 Controllers; BENCH_INJECTORS and BENCH_CONTROLLERS change
# the last two): inject_jobs at saturation (windows of 100
# calls in flight), then one call at a time at 200 jobs/s (submit to worker
# start). The memory of the master and its pools is read idle and after.
# With saturation_only (the rounds after the first) the master stops after
# the saturation run.
sub scenario_low_latency {
	my (%o) = @_;
	my $ini = $t->write_ini('db.2' => undef, 'garivini.log_level' => 'notice',
	    'garivini.status_interval' => 1,
	    'queue_runner.lease_seconds' => 300,
	    'queue_runner.batch_run_sleep' => 1.0,
	    'controller.processes' => $CONTROLLERS,
	    'injector.processes' => $INJECTORS);
	empty_table();
	my ($master, $by) = start_master($ini, $t->log_path,
	    injector => $INJECTORS, controller => $CONTROLLERS,
	    queue_runner => 1);
	my $w = start_workers(mode => 'return', func => 'bench_ll',
	    server => $GM);
	wait_until('inject_jobs and run_queued_job workers', 30, sub {
		my $st = gm_status($GM);
		return ($st->{inject_jobs}{workers} // 0) >= $INJECTORS
		    && ($st->{run_queued_job}{workers} // 0) >= $CONTROLLERS;
	});
	sleep 1;
	my $mem_idle = memory_of($master);
	my %g = (gearmand => [$t->gearmand_pid(1)],
	    mariadbd => [$t->mariadb_pid], master => [$master],
	    map { $_ => $by->{$_} } keys %$by);

	note("low latency: " . ($BURSTS > 1 ? "$BURSTS bursts of " : '')
	    . "$LL_N jobs through inject_jobs at saturation");
	my $prof = perf_start('low_latency', %g,
	    workers => [map { $_->{pid} } @$w]);
	my $c0 = cpu_snapshot(%g);
	my $s0 = db_status();
	my $f = ll_bursts($w, 'low latency');
	my $c1 = cpu_snapshot(%g);
	my $s1 = db_status();
	perf_stop($prof);
	my $cpu = cpu_delta($c0, $c1);
	$cpu->{client} = $f->{cpu};
	$cpu->{'client switches'} = $f->{switches};
	my $sat_cpu = $cpu;
	my $sat_jobs = $f->{jobs};
	my $sat = { jobs => $sat_jobs, jobs_per_s => $f->{jobs_per_s},
	    inject_per_s => $f->{submit_per_s},
	    @{ $f->{record} },
	    window => 100, db_per_job => db_per_job($s0, $s1, $sat_jobs) };
	# Workers' CPU is split below, when they stop; latency of this
	# phase is queueing, not reported.
	my $w0 = progress($w);
	my $record_sat = sub {
		my ($r, $share) = @_;
		$sat_cpu->{workers} = $r->{cpu} * $share;
		$sat_cpu->{'workers switches'} = $r->{switches} * $share;
		$sat->{cpu_s_per_1k} = cpu_per_1k($sat_cpu, $sat_jobs);
		$sat->{machine} = foreign_cpu($sat_cpu, $NCPU);
		$sat->{switches_per_job} = switches_per_job($sat_cpu, $sat_jobs);
		record('low_latency_saturation', %$sat);
	};
	if ($o{saturation_only}) {
		$record_sat->(stop_workers($w), 1);
		is_stopped($t->stop($master, 'TERM', 60), 'the master');
		return;
	}

	my $n = $RATE * $SECONDS;
	note("low latency: $n jobs at $RATE/s");
	$c0 = cpu_snapshot(%g);
	$s0 = db_status();
	my $c = run_client('inject', '-g', $GM, '-f', 'bench_ll', '-n', $n,
	    '-r', $RATE);
	wait_progress($w, $w0 + $n, 120, 'low latency at 200/s');
	wait_until('the job table to empty', 60, sub { $t->count(1) == 0 });
	$c1 = cpu_snapshot(%g);
	$s1 = db_status();
	my $mem_loaded = memory_of($master);
	my $r = stop_workers($w);
	my @rated = @{ $r->{records} }[$w0 .. $#{ $r->{records} }];
	$cpu = cpu_delta($c0, $c1);
	$cpu->{client} = $c->{cpu};
	$cpu->{'client switches'} = $c->{switches};
	# The workers' CPU split by jobs: both phases run the same code.
	$record_sat->($r, $w0 / $r->{jobs});
	$cpu->{workers} = $r->{cpu} * $n / $r->{jobs};
	$cpu->{'workers switches'} = $r->{switches} * $n / $r->{jobs};
	record('low_latency_200', jobs => $n,
	    jobs_per_s => $n / ($rated[-1][1] - $c->{first}),
	    latency_ms => latency_ms(\@rated),
	    schedule_behind_ms => $c->{behind} * 1000,
	    cpu_s_per_1k => cpu_per_1k($cpu, $n),
	    machine => foreign_cpu($cpu, $NCPU),
	    switches_per_job => switches_per_job($cpu, $n),
	    db_per_job => db_per_job($s0, $s1, $n),
	    worker_errors => $r->{errors});
	is_stopped($t->stop($master, 'TERM', 60), 'the master');
	record('memory', idle => $mem_idle, after_load => $mem_loaded,
	    default_pools => $DEFAULT_POOLS ? JSON::PP::true : JSON::PP::false,
	    pools => "queue_runner 1, injector $INJECTORS, controller "
	    . $CONTROLLERS);
}

# Low latency at saturation alone, on the master of $ini: jobs/s from the
# first inject_jobs call to an empty table.
sub ll_saturation {
	my ($ini, $name) = @_;
	empty_table();
	my ($master) = start_master($ini, $t->log_path,
	    injector => $INJECTORS, controller => $CONTROLLERS,
	    queue_runner => 1);
	my $w = start_workers(mode => 'return', func => 'bench_ll',
	    server => $GM);
	wait_until('inject_jobs and run_queued_job workers', 30, sub {
		my $st = gm_status($GM);
		return ($st->{inject_jobs}{workers} // 0) >= $INJECTORS
		    && ($st->{run_queued_job}{workers} // 0) >= $CONTROLLERS;
	});
	my $f = ll_bursts($w, $name);
	stop_workers($w);
	is_stopped($t->stop($master, 'TERM', 60), 'the master');
	record($name, jobs => $f->{jobs}, jobs_per_s => $f->{jobs_per_s},
	    @{ $f->{record} });
}

# Low latency at saturation: $BURSTS bursts of $LL_N jobs, windows of 100
# inject_jobs calls in flight, each burst timed from its first call to an
# empty table, the next one started then. All the jobs over the sum of the
# bursts' times, as burst_figures.
sub ll_bursts {
	my ($w, $what) = @_;
	my (@c, @seconds);
	my $base = progress($w);
	for my $b (1 .. $BURSTS) {
		push @c, run_client('inject', '-g', $GM, '-f', 'bench_ll', '-n',
		    $LL_N, '-j', 100);
		wait_progress($w, $base + $LL_N * $b, 600, $what);
		wait_until('the job table to empty', 60,
		    sub { $t->count(1) == 0 });
		push @seconds, time - $c[-1]{first};
	}
	return burst_figures(\@c, \@seconds, $LL_N);
}

# The cost of keeping records of ended jobs (job_outcome): the throughput
# run and the low-latency saturation run with keep_done 0 and 3600, in
# rounds (BENCH_REPEATS); the steps of a round, off then on for each mode.
sub records_steps {
	my @steps;
	for my $keep (0, 3600) {
		my $on = $keep ? 'on' : 'off';
		push @steps, sub {
			scenario_throughput(name => "records_tp_$on",
			    ini => tp_ini("records-$on.ini",
			    'queue_runner.batch_run_sleep' => 0.01,
			    'garivini.keep_done' => $keep));
			$t->dbh(1)->do('TRUNCATE TABLE job_outcome');
		};
	}
	for my $keep (0, 3600) {
		my $on = $keep ? 'on' : 'off';
		push @steps, sub {
			ll_saturation($t->write_ini('db.2' => undef,
			    'garivini.log_level' => 'notice',
			    'garivini.keep_done' => $keep,
			    'queue_runner.lease_seconds' => 300,
			    'controller.processes' => $CONTROLLERS,
			    'injector.processes' => $INJECTORS), "records_ll_$on");
			$t->dbh(1)->do('TRUNCATE TABLE job_outcome');
		};
	}
	return @steps;
}

sub is_stopped {
	my ($code, $what) = @_;
	note("warning: $what exited with " . ($code // 'nothing (killed)'))
	    unless defined $code && $code == 0;
}

# The connections of each of @pids to the local TCP port $port (MariaDB's,
# a gearmand's): the established sockets to it in /proc/net/tcp, matched by
# inode to the descriptors of each pid. { pid => [their local ports] }.
sub tcp_conns_of {
	my ($port, @pids) = @_;
	my %to_port;    # inode => local port
	open(my $fh, '<', '/proc/net/tcp') or return {};
	<$fh>;    # the header
	while (my $line = <$fh>) {
		my @f = split ' ', $line;
		my ($lport) = $f[1] =~ /:([0-9A-F]+)$/;
		my ($rport) = $f[2] =~ /:([0-9A-F]+)$/;
		$to_port{ $f[9] } = hex($lport)
		    if hex($rport) == $port && $f[3] eq '01';
	}
	close $fh;
	my %by;
	for my $pid (@pids) {
		$by{$pid} = [];
		opendir(my $d, "/proc/$pid/fd") or next;
		for (readdir $d) {
			my $l = readlink("/proc/$pid/fd/$_") // next;
			push @{ $by{$pid} }, $to_port{$1}
			    if $l =~ /^socket:\[(\d+)\]$/ && $to_port{$1};
		}
		closedir $d;
	}
	return \%by;
}

# What MariaDB says of each connection of %$ports ({ pid => [local
# ports] }): { pid => ["ID COMMAND TIME", ...] }.
sub db_conns_doing {
	my ($ports) = @_;
	my %by_port = map { $_->[0] => $_ } @{ $t->dbh(1)->selectall_arrayref(
	    'SELECT SUBSTRING_INDEX(HOST, ":", -1), ID, COMMAND, TIME FROM '
	    . 'information_schema.PROCESSLIST') };
	my %doing;
	for my $pid (keys %$ports) {
		$doing{$pid} = [map { my $p = $by_port{$_};
		    $p ? "$p->[1] $p->[2] $p->[3]" : "port $_ unknown" }
		    @{ $ports->{$pid} }];
	}
	return \%doing;
}

# One batch of slow jobs through the master: %o name, jobs, job_ms,
# threads (one bench_worker -m return process serves them, a thread per
# job in flight), the INI's overrides (none: the default pools), and
# gearmand (arguments of a gearmand of its own for this batch; none:
# GvTest's). All the jobs go to inject_jobs at once (one window); then the
# driver polls the table until it is empty, and meanwhile counts each
# Controller's connections to MariaDB and to gearmand. The time is from
# the first inject call to the poll that found no row (at most ~30 ms
# late).
sub slow_batch {
	my (%o) = @_;
	my $log = "$DIR/$o{name}.log";
	my ($gm_pid, $gm) = ($t->gearmand_pid(1), $GM);
	($gm_pid, $gm) = start_own_gearmand("gearmand-$o{name}",
	    @{ $o{gearmand} }) if $o{gearmand};
	my $ini = $t->write_ini(file => "$o{name}.ini", 'db.2' => undef,
	    'garivini.gearman_servers' => $gm,
	    'garivini.log_level' => 'notice', 'garivini.log_file' => $log,
	    'garivini.status_interval' => 1,
	    # The defaults (GvTest's INI sets these for its tests).
	    'queue_runner.lease_seconds' => undef,
	    'queue_runner.batch_run_sleep' => undef,
	    'controller.processes' => undef, %{ $o{ini} // {} });
	my $controllers = $o{ini}{'controller.processes'} // 2;
	my $slots = $o{ini}{'controller.concurrency'} // 64;
	empty_table();
	my ($master, $by) = start_master($ini, $log, injector => 1,
	    controller => $controllers, queue_runner => 1);
	my $w = start_workers(mode => 'return', func => 'bench_slow',
	    server => $gm, processes => 1, threads => $o{threads},
	    job_ms => $o{job_ms});
	wait_until('inject_jobs and run_queued_job workers', 30, sub {
		my $st = gm_status($gm);
		return ($st->{inject_jobs}{workers} // 0) >= 1
		    && ($st->{run_queued_job}{workers} // 0) >= $controllers;
	});
	sleep 1;
	my $mem_idle = memory_of($master);
	my @ctl = @{ $by->{controller} };
	my %g = (gearmand => [$gm_pid], mariadbd => [$t->mariadb_pid],
	    master => [$master], map { $_ => $by->{$_} } keys %$by);
	note("$o{name}: $o{jobs} jobs of $o{job_ms} ms at once, $o{threads} "
	    . "workers, $controllers Controllers of $slots slots"
	    . ($o{gearmand} ? ", gearmand @{ $o{gearmand} }" : ''));
	my $c0 = cpu_snapshot(%g);
	my $s0 = db_status();
	my $c = run_client('inject', '-g', $gm, '-f', 'bench_slow', '-n',
	    $o{jobs}, '-j', $o{jobs});
	my (%db_peak, %gm_peak, $db_ports, $server_peak);
	my ($db_port, $gm_port) = ($t->db_port, (split /:/, $gm)[1]);
	my $deadline = time + 120;
	my $sampled = 0;
	until (progress($w) >= $o{jobs} && $t->count(1) == 0) {
		die "bench: $o{name}: " . progress($w) . " of $o{jobs} jobs "
		    . "done, " . $t->count(1) . " rows left after 120 s\n"
		    if time > $deadline;
		if (time - $sampled >= 0.25) {
			$sampled = time;
			# The master inherits this driver's own connection
			# (GvTest's spawn leaves it open), and so do its
			# children: not theirs.
			$db_ports = tcp_conns_of($db_port, $$, @ctl);
			my %own = map { $_ => 1 } @{ delete $db_ports->{$$} };
			@$_ = grep { !$own{$_} } @$_ for values %$db_ports;
			my $gmc = tcp_conns_of($gm_port, @ctl);
			for (@ctl) {
				my ($d, $n) = (scalar @{ $db_ports->{$_} },
				    scalar @{ $gmc->{$_} });
				$db_peak{$_} = $d if $d > ($db_peak{$_} // -1);
				$gm_peak{$_} = $n if $n > ($gm_peak{$_} // -1);
			}
			# Every client of MariaDB, this driver's one included.
			my (undef, $n) = $t->dbh(1)->selectrow_array(
			    "SHOW GLOBAL STATUS LIKE 'Threads_connected'");
			$server_peak = $n if $n > ($server_peak // 0);
		}
		sleep 0.01;
	}
	my $end = time;
	my $c1 = cpu_snapshot(%g);
	my $s1 = db_status();
	my $mem = memory_of($master);
	my $doing = db_conns_doing($db_ports);
	# A job run twice would show here, or a late one after the table
	# emptied: give them a moment.
	sleep 1;
	my $r = stop_workers($w);
	is_stopped($t->stop($master, 'TERM', 60), 'the master');
	$t->stop($gm_pid, 'TERM', 15) if $o{gearmand};
	my $cpu = cpu_delta($c0, $c1);
	$cpu->{workers} = $r->{cpu};
	$cpu->{client} = $c->{cpu};
	$cpu->{'workers switches'} = $r->{switches};
	$cpu->{'client switches'} = $c->{switches};
	my $seconds = $end - $c->{first};
	my $ideal = $o{jobs} * $o{job_ms} / 1000 / $o{threads};
	$ideal = $o{job_ms} / 1000 if $ideal < $o{job_ms} / 1000;
	my @starts = sort { $a <=> $b } map { $_->[0] } @{ $r->{records} };
	my $db_max = (sort { $b <=> $a } values %db_peak)[0];
	# The most jobs running at once: records are [start, done, latency].
	my $peak = GvTest::max_overlap($r->{records});
	record($o{name}, jobs => $o{jobs}, job_seconds => $o{job_ms} / 1000,
	    workers => $o{threads}, controllers => $controllers,
	    concurrency => $slots, gearmand_args => $o{gearmand} // [],
	    jobs_per_s => $o{jobs} / $seconds, seconds => $seconds,
	    ideal_seconds => $ideal, over_ideal => $seconds / $ideal,
	    seconds_after_last_ack => $end - $c->{last},
	    inject_seconds => $c->{last} - $c->{first},
	    last_worker_done_seconds => $r->{records}[-1][1] - $c->{first},
	    first_to_last_start_seconds => $starts[-1] - $starts[0],
	    peak_in_flight => $peak, jobs_run => $r->{jobs},
	    worker_errors => $r->{errors},
	    controller_db_conns_peak => \%db_peak,
	    controller_db_conns_max => $db_max,
	    controller_db_conns_at_end => $doing,
	    mariadb_clients_peak => $server_peak,
	    controller_gearmand_conns_peak => \%gm_peak,
	    memory => { idle => $mem_idle, after_load => $mem },
	    detail => sprintf('%d x %.1f s, %d workers, %dx%d slots: %.2f s, '
	    . 'ideal %.2f s (%.2fx); injects acked in %.2f s; peak %d in '
	    . 'flight; %d runs; DB conns per Controller <= %d;', $o{jobs},
	    $o{job_ms} / 1000, $o{threads}, $controllers, $slots, $seconds,
	    $ideal, $seconds / $ideal, $c->{last} - $c->{first}, $peak,
	    $r->{jobs}, $db_max // -1),
	    cpu_s_per_1k => cpu_per_1k($cpu, $o{jobs}),
	    machine => foreign_cpu($cpu, $NCPU),
	    switches_per_job => switches_per_job($cpu, $o{jobs}),
	    db_per_job => db_per_job($s0, $s1, $o{jobs}));
	note("$o{name}: warning: $r->{jobs} jobs ran for $o{jobs} injected")
	    if $r->{jobs} != $o{jobs};
	empty_table();
}

# Slow jobs (issue 11): $SLOW_N jobs of 0.5 s on 20 workers through the
# master with its default pools (2 Controllers of 64 slots), against the
# worker-bound ideal; then 1,000 jobs of 5 s at once on 4 Controllers of
# 256 slots and 1,000 workers (threads of one bench_worker), twice: on
# GvTest's gearmand, which wakes every sleeping worker of a function for
# each job it receives (its default), and on a gearmand that wakes one
# (--worker-wakeup=1), which takes that cost out of the figure.
sub scenario_slow_jobs {
	slow_batch(name => 'slow_jobs_default', jobs => $SLOW_N, job_ms => 500,
	    threads => 20);
	my %wide = (jobs => 1000, job_ms => 5000, threads => 1000,
	    ini => { 'controller.processes' => 4,
	    'controller.concurrency' => 256 });
	slow_batch(name => 'slow_jobs_1000', %wide);
	slow_batch(name => 'slow_jobs_1000_wakeup1', %wide,
	    gearmand => ['--worker-wakeup=1']);
}

# Fill the table with n due rows fast: INSERT ... SELECT from MariaDB's
# sequence engine, 100,000 rows a statement. With $spread the rows go in
# turn to the functions $func . 1 to $func . $spread, as equally as n
# allows.
sub load_backlog {
	my ($n, $func, $spread) = @_;
	my $dbh = $t->dbh(1);
	my $name = $spread ? "CONCAT(?, 1 + seq MOD $spread)" : '?';
	my $t0 = time;
	for (my $i = 0; $i < $n; $i += 100_000) {
		my $to = $i + 100_000 <= $n ? $i + 99_999 : $n - 1;
		$dbh->do("INSERT INTO job (funcname, arg, run_after) SELECT "
		    . "$name, CONCAT('job ', seq), UNIX_TIMESTAMP() - 60 FROM "
		    . "seq_${i}_to_$to", undef, $func);
	}
	return time - $t0;
}

# The QueueRunner's scan for the functions with due rows (SQL_DUE_FUNCS,
# which selects the same with constant columns around it), run alone
# through DBI n times: the median in ms, the functions it found, and
# MariaDB's plan. With the func_due index the plan should be a loose index
# scan (type range, "Using index for group-by": one dive per function);
# right after a bulk load, before InnoDB's statistics catch up, MariaDB
# may read the whole index instead (type index).
sub due_scan {
	my ($n) = @_;
	my $dbh = $t->dbh(1);
	# The QueueRunner's scan (SQL_DUE_FUNCS): per function and priority.
	my $q = 'SELECT funcname, priority, MIN(run_after) FROM job WHERE '
	    . 'run_after <= UNIX_TIMESTAMP() GROUP BY funcname, priority';
	my ($funcs, @ms);
	for (1 .. $n) {
		my $t0 = time;
		$funcs = @{ $dbh->selectall_arrayref($q) };
		push @ms, (time - $t0) * 1000;
	}
	@ms = sort { $a <=> $b } @ms;
	my $plan = $dbh->selectrow_hashref("EXPLAIN $q");
	return { median_ms => 0 + sprintf('%.2f', pct(\@ms, 50)),
	    max_ms => 0 + sprintf('%.2f', $ms[-1]), runs => $n,
	    functions => $funcs,
	    plan => join(', ', grep { defined && $_ ne '' } $plan->{type},
	    $plan->{key}, defined $plan->{rows} ? "rows $plan->{rows}" : undef,
	    $plan->{Extra}) };
}

# Jobs a scenario left queued in gearmand on purpose (functions with no
# worker): run them with raw workers, so that the next scenario finds
# gearmand as it would without this one. Their rows stay in the table.
sub gearmand_flush {
	my (@funcs) = @_;
	my $w = start_workers(mode => 'raw', func => join(',', @funcs),
	    server => $GM);
	wait_until('gearmand to run the jobs left in it', 120, sub {
		my $st = gm_status($GM);
		return !grep { ($st->{$_}{total} // 0) > 0 } @funcs;
	});
	stop_workers($w);
}

# Drain rate with a backlog in the table: the first $k jobs, from the first
# job started to the k-th job completed. %o: funcs (the workers' -f list)
# and load (a sub that fills the table and returns its seconds), for a
# backlog other than $rows rows of bench_bl.
sub drain {
	my ($name, $rows, $k, %o) = @_;
	my $ini = tp_ini('backlog.ini', 'queue_runner.batch_run_sleep' => 0.01);
	my $funcs = $o{funcs} // 'bench_bl';
	empty_table();
	note("$name: loading $rows rows");
	my $load = $o{load} ? $o{load}->() : load_backlog($rows, 'bench_bl');
	# What the QueueRunner's first scans meet; only 5 runs, so as to start
	# the drain soon after the load, as before this was measured.
	my $scan = due_scan(5);
	my $w = start_workers(mode => 'complete', func => $funcs,
	    server => $GM, ini => $ini);
	note("$name: draining $k of them");
	my $s0 = db_status();
	my $runners = start_runners($ini);
	my %g = (gearmand => [$t->gearmand_pid(1)],
	    mariadbd => [$t->mariadb_pid], queue_runner => $runners);
	my $prof = perf_start($name, mariadbd => [$t->mariadb_pid],
	    queue_runner => $runners);
	my $c0 = cpu_snapshot(%g);
	wait_progress($w, $k, 900, $name);
	my $c1 = cpu_snapshot(%g);
	my $s1 = db_status();
	perf_stop($prof);
	stop_pids($runners);
	my $r = stop_workers($w);
	my $recs = $r->{records};
	my $first = $recs->[0][0];
	$first = $_->[0] < $first ? $_->[0] : $first for @$recs[0 .. $k - 1];
	my $cpu = cpu_delta($c0, $c1);
	$cpu->{workers} = $r->{cpu} * $k / $r->{jobs};
	$cpu->{'workers switches'} = $r->{switches} * $k / $r->{jobs};
	my %out = (rows => $rows, jobs => $k, load_seconds => $load,
	    functions => 1 + ($funcs =~ tr/,//), due_scan => $scan,
	    due_scan_after => due_scan(20),
	    jobs_per_s => ($k - 1) / ($recs->[$k - 1][1] - $first),
	    cpu_s_per_1k => cpu_per_1k($cpu, $k),
	    machine => foreign_cpu($cpu, $NCPU),
	    switches_per_job => switches_per_job($cpu, $k),
	    db_per_job => db_per_job($s0, $s1, $k));
	# The same window as the small backlog's, for a like-for-like look.
	if ($k > $BACKLOG_SMALL) {
		$out{jobs_per_s_first_20000} = ($BACKLOG_SMALL - 1)
		    / ($recs->[$BACKLOG_SMALL - 1][1] - $first);
	}
	record($name, %out);
	gearmand_flush(split /,/, $funcs);
	empty_table();
}

sub scenario_backlog_small {
	drain('backlog_small', $BACKLOG_SMALL, $BACKLOG_SMALL);
}

sub scenario_backlog_large { drain('backlog_large', $BACKLOG, $DRAIN) }

# Fair claims (issue 10) under a backlog over many functions: $BACKLOG rows,
# half of them for bench_mf0, the other half shared equally by bench_mf1 to
# bench_mf99, every worker serving all of them. Its target is against the
# one-function backlog_small of the same round, which runs before it also
# when the backlog scenario was not selected.
sub scenario_many_functions {
	my $big = int($BACKLOG / 2);
	drain('many_functions', $BACKLOG, $DRAIN,
	    funcs => join(',', map { "bench_mf$_" } 0 .. $MF_FUNCS - 1),
	    load => sub {
		return load_backlog($big, 'bench_mf0') +
		    load_backlog($BACKLOG - $big, 'bench_mf', $MF_FUNCS - 1);
	    });
}

# Fairness (issue 10): bench_fair_big holds $FAIR_BACKLOG due rows and has
# no worker, so once gearmand holds $FAIR_WATERMARK of its jobs (its
# watermark) the QueueRunner leaves the rest alone; beside it bench_fair
# gets one gv_insert_job every 5 ms, as in throughput_latency (same
# batch_run_sleep 0.05): insert to worker start of bench_fair.
sub scenario_fairness {
	my $ini = tp_ini('fair.ini', 'queue_runner.batch_run_sleep' => 0.05,
	    'queue_runner.queue_watermark_depth' => $FAIR_WATERMARK);
	my $n = $RATE * $SECONDS;
	empty_table();
	note("fairness: loading $FAIR_BACKLOG rows of bench_fair_big");
	my $load = load_backlog($FAIR_BACKLOG, 'bench_fair_big');
	my $scan = due_scan(5);
	my $w = start_workers(mode => 'complete', func => 'bench_fair',
	    server => $GM, ini => $ini);
	my $runners = start_runners($ini, 1);
	wait_until("$FAIR_WATERMARK jobs of bench_fair_big in gearmand", 60,
	    sub {
		my $st = gm_status($GM)->{bench_fair_big};
		return $st && $st->{total} >= $FAIR_WATERMARK;
	});
	note("fairness: $n jobs at $RATE/s beside it");
	my %g = (gearmand => [$t->gearmand_pid(1)],
	    mariadbd => [$t->mariadb_pid], queue_runner => $runners);
	my $c0 = cpu_snapshot(%g);
	my $s0 = db_status();
	my $c = run_client('insert', '-c', $ini, '-f', 'bench_fair', '-n', $n,
	    '-r', $RATE);
	wait_progress($w, $n, 120, 'fairness');
	my $c1 = cpu_snapshot(%g);
	my $s1 = db_status();
	# The backlog stayed where the watermark put it: its rows claimed
	# (each claim adds one to attempt) and its jobs queued in gearmand.
	my $queued = gm_status($GM)->{bench_fair_big}{total} + 0;
	my ($claimed) = $t->dbh(1)->selectrow_array('SELECT COUNT(*) FROM job '
	    . 'WHERE funcname = ? AND attempt > 0', undef, 'bench_fair_big');
	my $scan_after = due_scan(20);
	stop_pids($runners);
	my $r = stop_workers($w);
	my $cpu = cpu_delta($c0, $c1);
	$cpu->{workers} = $r->{cpu};
	$cpu->{client} = $c->{cpu};
	$cpu->{'workers switches'} = $r->{switches};
	$cpu->{'client switches'} = $c->{switches};
	# bench_fair is new to the QueueRunner: its first rows wait for a scan
	# of the due functions to see it. Apart: the first job inserted, and
	# the jobs inserted a second or more after it.
	my @by_insert = sort { $a->[0] - $a->[2] <=> $b->[0] - $b->[2] }
	    @{ $r->{records} };
	my @later = grep { $_->[0] - $_->[2] >= $c->{first} + 1 } @by_insert;
	my $after_1s = latency_ms(\@later);
	record('fairness', jobs => $n,
	    jobs_per_s => $n / ($r->{records}[-1][1] - $c->{first}),
	    latency_ms => latency_ms($r->{records}),
	    first_job_latency_ms => $by_insert[0][2] * 1000,
	    latency_ms_after_1s => $after_1s,
	    schedule_behind_ms => $c->{behind} * 1000, batch_run_sleep => 0.05,
	    backlog_rows => $FAIR_BACKLOG, load_seconds => $load,
	    watermark => $FAIR_WATERMARK, backlog_queued_in_gearmand => $queued,
	    backlog_rows_claimed => $claimed + 0, due_scan => $scan,
	    due_scan_after => $scan_after,
	    detail => sprintf('backlog %d, %d in gearmand; first job %.0f ms, '
	    . 'p99 after 1 s %.0f ms;', $FAIR_BACKLOG, $queued,
	    $by_insert[0][2] * 1000, $after_1s->{p99} // 'nan'),
	    cpu_s_per_1k => cpu_per_1k($cpu, $n),
	    machine => foreign_cpu($cpu, $NCPU),
	    switches_per_job => switches_per_job($cpu, $n),
	    db_per_job => db_per_job($s0, $s1, $n),
	    worker_errors => $r->{errors});
	gearmand_flush('bench_fair_big');
	empty_table();
}

# What a claim costs with $RC_FUNCS functions due ($RC_ROWS rows each): the
# due-function scan alone (median of 20 through DBI), then one QueueRunner,
# with no worker, claims every row into gearmand (the default watermark of
# 10000 per function is far away). MariaDB's counters over that, divided by
# the claims (each is one transaction: a commit, or a rollback when it
# found nothing to lease), give the statements of a claim; they include
# the QueueRunner's due scans, which run between claims.
sub scenario_round_cost {
	my $ini = tp_ini('rc.ini', 'queue_runner.batch_run_sleep' => 0.01);
	my $rows = $RC_FUNCS * $RC_ROWS;
	my @funcs = map { "bench_rc$_" } 1 .. $RC_FUNCS;
	empty_table();
	note("round cost: $rows due rows over $RC_FUNCS functions");
	load_backlog($rows, 'bench_rc', $RC_FUNCS);
	my $scan = due_scan(20);
	my %g = (mariadbd => [$t->mariadb_pid]);
	my $c0 = cpu_snapshot(%g);
	my $s0 = db_status();
	my $t0 = time;
	my $runners = start_runners($ini, 1);
	$g{queue_runner} = $runners;    # counted from its start
	wait_until("gearmand to hold the $rows jobs", 120, sub {
		my $st = gm_status($GM);
		my $queued = 0;
		$queued += $st->{$_}{total} // 0 for @funcs;
		return $queued >= $rows;
	});
	my $seconds = time - $t0;
	my $s1 = db_status();
	my $c1 = cpu_snapshot(%g);
	stop_pids($runners);
	my $cpu = cpu_delta($c0, $c1);
	my %d = map { $_ => $s1->{$_} - $s0->{$_} } @STATUS_VARS;
	$d{Questions}--;    # the SHOW GLOBAL STATUS of $s1
	my $claims = $d{Com_commit} + $d{Com_rollback};
	my $per = sub { 0 + sprintf('%.1f', $_[0] / ($claims || 1)) };
	my %per_claim = (statements => $per->($d{Questions}),
	    selects => $per->($d{Com_select}),
	    updates => $per->($d{Com_update}),
	    rows => $per->($rows),
	    mariadbd_cpu_ms => $per->($cpu->{mariadbd} * 1000),
	    queue_runner_cpu_ms => $per->($cpu->{queue_runner} * 1000));
	record('round_cost', functions => $RC_FUNCS, rows => $rows,
	    due_scan => $scan, claims => $claims, commits => $d{Com_commit},
	    rollbacks => $d{Com_rollback}, seconds => $seconds,
	    per_claim => \%per_claim, status_deltas => \%d,
	    machine => foreign_cpu($cpu, $NCPU));
	gearmand_flush(@funcs);
	empty_table();
}

# --- the report -------------------------------------------------------

sub fmt { defined $_[0] ? sprintf($_[1] // '%.0f', $_[0]) : '-' }

sub commify {
	my ($n) = @_;
	1 while $n =~ s/^(\d+)(\d{3})/$1,$2/;
	return $n;
}

sub ratio {
	my ($a, $b) = @_;
	return undef unless $a && $b && $a->{jobs_per_s} && $b->{jobs_per_s};
	return $a->{jobs_per_s} / $b->{jobs_per_s};
}

# The p-quantile (0 to 1) of sorted numbers, between the two nearest
# (R's type 7): of 5 values, the quartiles are the 2nd and the 4th.
sub quantile {
	my ($sorted, $p) = @_;
	my $h = $#$sorted * $p;
	my $lo = int $h;
	return $sorted->[$lo] if $lo == $#$sorted;
	return $sorted->[$lo] + ($h - $lo) * ($sorted->[$lo + 1] - $sorted->[$lo]);
}

# The records scenario's runs keep a JSON line each, named by their round
# (records_tp_on_1, ...) as before it ran in rounds.
my %JSON_PER_RUN = map { $_ => 1 } qw(records_tp_off records_tp_on
    records_ll_off records_ll_on);

sub r3 { 0 + sprintf('%.3f', $_[0]) }

# The share of the CPUs other programs may take during a run before the
# report marks its round (their estimate reads 0% to 3% at saturation on an
# otherwise idle machine).
my $BUSY_SHARE = 0.10;

# Each scenario's figures out of its runs: the only run's, or, of a
# scenario run in rounds, the run of median jobs/s (the lower of the two
# middle ones for an even count), with every run's jobs/s, their min and
# max, and repeats; and the JSON lines.
sub summarize {
	for my $name (@names) {
		my @r = @{ $runs{$name} };
		my $rep = $r[0];
		# A scenario run once in a round (low latency at 200/s) is
		# shown as any other run once.
		delete @$rep{qw(repeat settled)}
		    if @r == 1 && !$JSON_PER_RUN{$name};
		if (@r > 1) {
			my @by = sort { ($a->{jobs_per_s} // 0) <=>
			    ($b->{jobs_per_s} // 0) } @r;
			$rep = { %{ $by[$#by / 2] }, repeats => scalar @r };
			my @v = map { $_->{jobs_per_s} } @r;
			if (!grep { !defined } @v) {
				$rep->{jobs_per_s_runs} = [map { r3($_) } @v];
				$rep->{jobs_per_s_min} = r3($by[0]{jobs_per_s});
				$rep->{jobs_per_s_max} = r3($by[-1]{jobs_per_s});
			}
		}
		$res{$name} = $rep;
		if ($JSON_PER_RUN{$name}) {
			push @json, { scenario => "${name}_" . ($_->{repeat} // 1),
			    %$_, repeats => scalar @r } for @r;
		} else {
			push @json, { scenario => $name, %$rep };
		}
	}
}

# A scenario against its baseline: when both ran in rounds, the ratio of
# each round (the two runs of the same round), their median, min, max and
# quartiles; else the ratio of their figures. undef when one is missing.
sub ratio_stats {
	my ($name, $base) = @_;
	my ($ra, $rb) = ($runs{$name} // [], $runs{$base} // []);
	my (@v, @rounds, @busy);
	if (@$ra > 1 && @$rb > 1) {
		my %of_round = map { ($_->{repeat} // 0) => $_ } @$rb;
		for (@$ra) {
			my $base_run = $of_round{ $_->{repeat} // 0 };
			my $x = ratio($_, $base_run);
			next unless defined $x;
			push @v, $x;
			push @rounds, $_->{repeat};
			# Rounds in which other programs took more than a tenth
			# of the CPUs during either run (where measured).
			push @busy, $_->{repeat} if grep { $_ && $_->{machine}
			    && $_->{machine}{other_cpu_share} > $BUSY_SHARE }
			    $_, $base_run;
		}
	} else {
		my $x = ratio($res{$name}, $res{$base});
		push @v, $x if defined $x;
	}
	return undef unless @v;
	my @s = sort { $a <=> $b } @v;
	return { runs => [map { r3($_) } @v], n => scalar @v,
	    rounds => \@rounds, busy_rounds => \@busy,
	    median => r3(quantile(\@s, 0.5)), min => r3($s[0]),
	    max => r3($s[-1]), q1 => r3(quantile(\@s, 0.25)),
	    q3 => r3(quantile(\@s, 0.75)) };
}

sub report {
	my %info = @_;
	print "\n";
	print "Garivini benchmarks ($info{when})\n";
	print "machine: $info{cpus} CPUs ($info{cpu}), MariaDB $info{mariadb}, "
	    . "$info{gearmand}\n";
	print "load average before: $info{loadavg_before}, after: "
	    . "$info{loadavg_after} (other programs running at the same time "
	    . "skew every figure; see OTHER PROGRAMS in the table)\n";
	print "MariaDB durability: innodb_flush_log_at_trx_commit="
	    . "$info{flush} (the default: every commit is fsync'd)\n";
	my $parts = $info{seconds_by_part} // {};
	print "wall time: $info{seconds} s ("
	    . join(', ', map { "$_ $parts->{$_} s" } sort { $parts->{$b} <=>
	    $parts->{$a} } keys %$parts) . "); $REPEATS rounds of the "
	    . "repeated scenarios\n";
	print "jobs: N=$N (throughput, baselines), $LL_N (low-latency "
	    . "saturation), $RATE/s for $SECONDS s (latency runs), backlog "
	    . "$BACKLOG rows (first $DRAIN drained) vs $BACKLOG_SMALL; "
	    . "$WORKERS C workers, $RUNNERS QueueRunner(s); low latency: "
	    . "$INJECTORS Injector(s), $CONTROLLERS Controllers; many "
	    . "functions: $BACKLOG rows over $MF_FUNCS functions (half for "
	    . "one); fairness: $FAIR_BACKLOG rows over a watermark of "
	    . "$FAIR_WATERMARK\n\n";

	my @cols = ('scenario', 'jobs/s', 'p50 ms', 'p99 ms', 'CPU s/1k',
	    'detail');
	my $line = "%-32s %9s %8s %8s %9s  %s\n";
	printf $line, @cols;
	printf $line, map { '-' x length } @cols;
	my @order = (
	    [gearmand_memory => 'gearmand memory-only (baseline)'],
	    [gearmand_mysql => 'gearmand MySQL queue (baseline)'],
	    [throughput => 'throughput mode, end to end'],
	    [throughput_latency => "throughput mode at $RATE/s"],
	    [cluster => 'throughput mode, Galera cluster'],
	    [low_latency_saturation => 'low latency, saturation'],
	    [low_latency_200 => "low latency at $RATE/s"],
	    [slow_jobs_default => 'slow jobs, default pools'],
	    [slow_jobs_1000 => 'slow jobs, 1000 at once'],
	    [slow_jobs_1000_wakeup1 => '  the same, gearmand -w 1'],
	    [backlog_small => "drain, $BACKLOG_SMALL-row backlog"],
	    [backlog_large => "drain, $BACKLOG-row backlog"],
	    [many_functions => "drain, $BACKLOG rows, $MF_FUNCS funcs"],
	    [fairness => "fairness at $RATE/s beside backlog"],
	);
	for (@order) {
		my ($k, $label) = @$_;
		my $r = $res{$k} or next;
		my $d = '';
		$d = sprintf('submit %.0f/s', $r->{submit_per_s})
		    if $r->{submit_per_s};
		$d = sprintf('insert %.0f/s', $r->{insert_per_s})
		    if $r->{insert_per_s};
		$d = sprintf('inject calls %.0f/s', $r->{inject_per_s})
		    if $r->{inject_per_s};
		$d = sprintf('first 20000: %.0f/s', $r->{jobs_per_s_first_20000})
		    if $r->{jobs_per_s_first_20000};
		$d = $r->{detail} if $r->{detail};
		$d = join(' ', sprintf('median of %d runs (%.0f-%.0f/s);',
		    $r->{repeats}, $r->{jobs_per_s_min}, $r->{jobs_per_s_max}),
		    $d eq '' ? () : $d)
		    if $r->{repeats} && defined $r->{jobs_per_s_min};
		$d .= sprintf(' %.2f stmts, %.2f fsyncs/job',
		    $r->{db_per_job}{statements}, $r->{db_per_job}{fsyncs})
		    if $r->{db_per_job};
		$d .= sprintf('; OTHER PROGRAMS USED %.0f%% OF THE CPUS',
		    100 * $r->{machine}{other_cpu_share})
		    if $r->{machine} && $r->{machine}{other_cpu_share} > 0.05;
		printf $line, $label, fmt($r->{jobs_per_s}),
		    fmt($r->{latency_ms}{p50}, '%.2f'),
		    fmt($r->{latency_ms}{p99}, '%.2f'),
		    fmt($r->{cpu_s_per_1k}{total}, '%.3f'), $d;
	}
	if (my $m = $res{memory}) {
		printf $line, 'memory, master + pools', '-', '-', '-', '-',
		    "RSS $m->{idle}{rss_mb} MB idle, $m->{after_load}{rss_mb} MB "
		    . "after load (PSS $m->{after_load}{pss_mb} MB), "
		    . "$m->{after_load}{processes} processes";
	}
	for (['slow_jobs_default', 'default pools'],
	    ['slow_jobs_1000', '4 Controllers x 256']) {
		my $m = $res{ $_->[0] } && $res{ $_->[0] }{memory} or next;
		printf $line, "memory after slow jobs", '-', '-', '-', '-',
		    "$_->[1]: RSS $m->{idle}{rss_mb} MB idle, "
		    . "$m->{after_load}{rss_mb} MB after load (PSS "
		    . "$m->{after_load}{pss_mb} MB), $m->{after_load}{processes} "
		    . 'processes';
	}
	if (my $c = $res{round_cost}) {
		my $p = $c->{per_claim};
		printf $line, "claim, $c->{functions} functions due", '-', '-',
		    '-', '-', sprintf('due scan %.2f ms; %d claims of %.0f '
		    . 'rows: %.1f stmts (%.1f selects, %.1f updates), mariadbd '
		    . '%.1f ms, queue_runner %.1f ms CPU each',
		    $c->{due_scan}{median_ms}, $c->{claims}, $p->{rows},
		    $p->{statements}, $p->{selects}, $p->{updates},
		    $p->{mariadbd_cpu_ms}, $p->{queue_runner_cpu_ms});
	}

	# The ratios measured in rounds: each round's, the median and the
	# spread.
	my @ratios = (
	    [records_tp => 'records_tp_on', 'records_tp_off',
	    'throughput, keep_done 3600 / 0'],
	    [records_ll => 'records_ll_on', 'records_ll_off',
	    'low latency saturation, keep_done 3600 / 0'],
	    [throughput_memory => 'throughput', 'gearmand_memory',
	    'throughput e2e / gearmand memory-only'],
	    [throughput_mysql => 'throughput', 'gearmand_mysql',
	    'throughput e2e / gearmand MySQL queue'],
	    [low_latency_mysql => 'low_latency_saturation', 'gearmand_mysql',
	    'low latency saturation / gearmand MySQL queue'],
	    [cluster => 'cluster', 'throughput',
	    'Galera cluster / one server (median run)'],
	    [drain_large => 'backlog_large', 'backlog_small',
	    "drain $BACKLOG rows / $BACKLOG_SMALL"],
	    [drain_functions => 'many_functions', 'backlog_small',
	    "drain $BACKLOG rows, $MF_FUNCS funcs / $BACKLOG_SMALL"],
	);
	my (%st, @ratio_json);
	my ($heading, $busy_mark);
	for (@ratios) {
		my ($key, $name, $base, $label) = @$_;
		my $x = $st{$key} = ratio_stats($name, $base) or next;
		push @ratio_json, { ratio => $key, scenario => $name,
		    baseline => $base, %$x };
		next unless $x->{n} > 1;
		print "\nratios by round (each round runs the baseline, then "
		    . "the scenario; spread: min-max, and the interquartile "
		    . "range):\n" unless $heading++;
		my %busy = map { $_ => 1 } @{ $x->{busy_rounds} };
		printf "  %-46s median %5.2fx  min-max %.2f-%.2f  IQR %.2f-%.2f"
		    . "  rounds: %s\n", $label, $x->{median}, $x->{min},
		    $x->{max}, $x->{q1}, $x->{q3}, join(' ', map { sprintf(
		    '%.2f', $x->{runs}[$_]) . ($busy{ $x->{rounds}[$_] } ? '!'
		    : '') } 0 .. $#{ $x->{runs} });
		$busy_mark++ if %busy;
	}
	printf "  (!: other programs took more than %.0f%% of the CPUs during "
	    . "one of the round's two runs)\n", 100 * $BUSY_SHARE
	    if $busy_mark;

	print "\ntargets (ratios within this run; a ratio run in rounds is "
	    . "judged on its median):\n";
	my @targets;
	my $tgt = sub {
		my ($what, $value, $fmt, $ok, $x) = @_;
		my $verdict = !defined $value ? 'n/a' : $ok ? 'PASS' : 'MISS';
		my $spread = $x && $x->{n} > 1 ? sprintf(
		    '  min-max %.2f-%.2f, %d rounds', $x->{min}, $x->{max},
		    $x->{n}) : '';
		printf "  %-58s %12s  %s%s\n", $what,
		    defined $value ? sprintf($fmt, $value) : '-', $verdict,
		    $spread;
		push @targets, { target => $what, value => $value,
		    verdict => $verdict, $x && $x->{n} > 1 ? (median =>
		    $x->{median}, min => $x->{min}, max => $x->{max},
		    q1 => $x->{q1}, q3 => $x->{q3}, runs => $x->{runs}) : () };
	};
	# A ratio's median (or its only value) and whether it is at least $min.
	my $judge = sub {
		my ($key, $what, $min) = @_;
		my $x = $st{$key};
		my $v = $x && $x->{median};
		$tgt->($what, $v, '%.2fx', defined $v && $v >= $min, $x);
	};
	$judge->('records_tp', 'throughput with records >= 0.9x without', 0.9);
	$judge->('records_ll', 'low latency with records >= 0.9x without', 0.9);
	$judge->('throughput_memory',
	    'throughput e2e >= 0.5x gearmand memory-only', 0.5);
	$judge->('throughput_mysql', 'throughput e2e >= 2x gearmand MySQL queue',
	    2);
	$judge->('low_latency_mysql',
	    'low latency saturation >= 1x gearmand MySQL queue', 1);
	my $l = $res{low_latency_200} && $res{low_latency_200}{latency_ms};
	$tgt->("low latency p50 at $RATE/s <= 2 ms", $l && $l->{p50}, '%.2f ms',
	    $l && $l->{p50} <= 2);
	$tgt->("low latency p99 at $RATE/s <= 20 ms", $l && $l->{p99}, '%.2f ms',
	    $l && $l->{p99} <= 20);
	$l = $res{throughput_latency} && $res{throughput_latency}{latency_ms};
	$tgt->("throughput-mode p50 at $RATE/s <= 100 ms", $l && $l->{p50},
	    '%.2f ms', $l && $l->{p50} <= 100);
	$judge->('cluster',
	    'throughput on a 3-node Galera cluster >= 0.5x one server', 0.5);
	$judge->('drain_large', "drain with $BACKLOG rows >= 0.8x with "
	    . $BACKLOG_SMALL, 0.8);
	$judge->('drain_functions', "drain, $BACKLOG rows over $MF_FUNCS "
	    . "functions >= 0.8x $BACKLOG_SMALL", 0.8);
	$l = $res{fairness} && $res{fairness}{latency_ms};
	$tgt->("fairness: p99 at $RATE/s beside a " . commify($FAIR_BACKLOG)
	    . "-row backlog over its watermark <= $FAIR_P99_MS ms",
	    $l && $l->{p99}, '%.2f ms', $l && $l->{p99} <= $FAIR_P99_MS);
	my $m = $res{memory} && $DEFAULT_POOLS &&
	    $res{memory}{after_load}{rss_mb};
	$tgt->('master + default pools < 50 MB RSS (after load)', $m || undef,
	    '%.1f MB', $m && $m < 50);
	my $s = $res{slow_jobs_default};
	$tgt->("slow jobs: $SLOW_N x 0.5 s on 20 workers <= 1.5x the ideal",
	    $s && $s->{over_ideal}, '%.2fx', $s && $s->{over_ideal} <= 1.5);
	$m = $s && $s->{memory}{after_load}{rss_mb};
	$tgt->('master + default pools < 50 MB RSS (after slow jobs)',
	    $m || undef, '%.1f MB', $m && $m < 50);
	for (['slow_jobs_1000', ''],
	    ['slow_jobs_1000_wakeup1', ', gearmand -w 1']) {
		$s = $res{ $_->[0] };
		$tgt->("slow jobs: 1000 x 5 s$_->[1], first inject to done "
		    . '<= 7.5 s', $s && $s->{seconds}, '%.2f s',
		    $s && $s->{seconds} <= 7.5);
		$tgt->("slow jobs: MariaDB connections per Controller$_->[1] "
		    . '<= 5', $s && $s->{controller_db_conns_max}, '%d',
		    $s && $s->{controller_db_conns_max} <= 5);
	}

	print "\nthe due-function scan (SELECT funcname, priority, "
	    . "MIN(run_after) ... GROUP BY funcname, priority) through DBI, after the load and after the "
	    . "run: median ms of N runs, functions found, MariaDB's plan:\n";
	for (@order, [round_cost => "claim, $RC_FUNCS functions due"]) {
		my ($k, $label) = @$_;
		my $r = $res{$k} or next;
		my @when = ([due_scan => 'after load'],
		    [due_scan_after => 'after run']);
		for (@when) {
			my $d = $r->{ $_->[0] } or next;
			printf "  %-32s %-11s %8.2f ms (N=%d)  %4d  %s\n",
			    $label, $_->[1], $d->{median_ms}, $d->{runs},
			    $d->{functions}, $d->{plan};
		}
	}

	print "\nCPU seconds per 1,000 jobs by process (context switches per "
	    . "job, all threads):\n";
	for (@order) {
		my ($k, $label) = @$_;
		my $c = $res{$k} && $res{$k}{cpu_s_per_1k} or next;
		my $sw = $res{$k}{switches_per_job} // {};
		printf "  %-32s %s\n", $label, join('  ', map { "$_ $c->{$_}"
		    . (defined $sw->{$_} ? " ($sw->{$_} sw)" : '') }
		    grep { $_ ne 'total' } sort keys %$c);
	}
	print "\nJSON:\n";
	my $js = JSON::PP->new->canonical;
	print $js->encode({ run => \%info, n => $N }), "\n";
	print $js->encode($_), "\n" for @json;
	print $js->encode({ ratios => \@ratio_json }), "\n";
	print $js->encode({ targets => \@targets }), "\n";
}

# The throughput run again, on a 3-node Galera cluster on loopback
# (tests/cluster/lib/GvGalera.pm), [db.1] naming its nodes: one writer
# node, every commit certified by the whole cluster.
sub scenario_cluster {
	require lib;
	lib->import("$FindBin::Bin/../tests/cluster/lib");
	require GvGalera;
	my $g = GvGalera->new(nodes => 3);
	my $dbh = $g->create_database(1, 'gvbench');
	my $ini = tp_ini('cluster.ini', 'queue_runner.batch_run_sleep' => 0.01,
	    'db.1.host' => $g->host_list, 'db.1.socket' => undef,
	    'db.1.database' => 'gvbench', 'db.1.user' => $GvGalera::USER,
	    'db.1.password' => $GvGalera::PASSWORD);
	scenario_throughput(name => 'cluster', ini => $ini, dbh => $dbh,
	    mariadbd => [map { $g->pid($_) } 1 .. $g->nodes]);
	$dbh->disconnect;
	$g->teardown;
}

# --- main -------------------------------------------------------------

my %info = (when => scalar localtime, cpus => $NCPU);
{
	open(my $fh, '<', '/proc/cpuinfo');
	($info{cpu}) = map { /^model name\s*:\s*(.*)/ ? $1 : () } <$fh>;
	$info{cpu} //= 'unknown';
}
($info{mariadb}) = $t->dbh(1)->selectrow_array('SELECT VERSION()');
($info{flush}) = $t->dbh(1)->selectrow_array(
    'SELECT @@innodb_flush_log_at_trx_commit');
($info{gearmand}) = `@{[GvTest::_find_program('gearmand')]} --version 2>&1` =~ /^(gearmand \S+)/m;
$info{gearmand} //= 'gearmand';
note("MariaDB innodb_flush_log_at_trx_commit=$info{flush}; servers in $DIR");

sub loadavg {
	open(my $fh, '<', '/proc/loadavg') or return '?';
	my @f = split ' ', scalar <$fh>;
	return "@f[0 .. 2]";
}

$info{loadavg_before} = loadavg();
my $t0 = time;
my %part_seconds;

# Run a part of the benchmark and note its wall time.
sub part {
	my ($name, $code) = @_;
	my $t1 = time;
	$code->();
	$part_seconds{$name} = 0 + sprintf('%.0f', time - $t1);
}

# The headline ratios, in rounds: gearmand memory-only, then throughput
# mode; gearmand's MySQL queue, then low latency at saturation (its 200/s
# run and the memory are measured in the first round only).
my @headline = grep { defined } (
    want('gearmand_memory') ? \&scenario_gearmand_memory : undef,
    want('throughput') ? sub { scenario_throughput() } : undef,
    want('gearmand_mysql') ? \&scenario_gearmand_mysql : undef,
    want('low_latency') ? sub { scenario_low_latency(
    saturation_only => $ROUND > 1) } : undef);
# The drains, in rounds: the 20,000-row one, then the two it judges.
my @drains = grep { defined } (
    want('backlog') || want('many_functions') ? \&scenario_backlog_small
    : undef,
    want('backlog') ? \&scenario_backlog_large : undef,
    want('many_functions') ? \&scenario_many_functions : undef);
part(headline_rounds => sub { rounds(@headline) }) if @headline;
part(throughput_latency => \&scenario_throughput_latency)
    if want('throughput_latency');
part(slow_jobs => \&scenario_slow_jobs) if want('slow_jobs');
part(drain_rounds => sub { rounds(@drains) }) if @drains;
part(fairness => \&scenario_fairness) if want('fairness');
part(cluster => \&scenario_cluster) if want('cluster');
part(round_cost => \&scenario_round_cost) if want('round_cost');
part(records_rounds => sub { rounds(records_steps()) }) if want('records');
$info{seconds_by_part} = \%part_seconds;
$info{seconds} = sprintf('%.0f', time - $t0);
$info{loadavg_after} = loadavg();
$info{repeats} = $REPEATS;
summarize();
report(%info);
