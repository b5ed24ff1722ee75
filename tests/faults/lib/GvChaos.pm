package GvChaos;

# Scenarios of the fault suite (tests/faults/*.t): the real master under
# load in either mode while something breaks, then the reckoning. Built on
# GvTest (tests/lib), which owns the servers and every process spawned.
#
#   my $c = GvChaos->new(dbs => 2);
#   $c->start_master;
#   $c->scenario('gearmand-kill', 'latency', sub { ... break something ... });
#
# A scenario starts consumers (gv_consume) for a function of its own and a
# loader (bin/load.pl) that injects jobs with unique args and records the
# acknowledged ones, runs the fault while jobs flow, stops the loader, waits
# until every row of the function is gone, and compares: every acknowledged
# job must have run at least once. It prints one line (diag, so prove shows
# it)
#
#   NAME/MODE: acknowledged A, completed C, lost L, duplicates D
#
# completed: acknowledged jobs that ran (and whose row is gone); lost: the
# acknowledged jobs that never ran; duplicates: acknowledged jobs that ran
# more than once. Jobs refused to the client but stored all the same (an
# answer lost after the commit) may run; they are counted apart, in a note.

use strict;
use warnings;

use Carp qw(croak);
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use Test::More ();
use Time::HiRes qw(sleep time);
use GvTest;

my $BIN = abs_path(dirname(abs_path(__FILE__)) . '/../bin');

# Short leases and a watermark: runs are quick, and a job never waits in
# gearmand's queue anywhere near its lease, so only the faults themselves can
# make a job run twice.
my %INI = (
	'garivini.shutdown_timeout' => 5,
	'garivini.status_interval' => 0.5,
	'garivini.log_level' => 'info',
	'queue_runner.processes' => 2,
	'queue_runner.lease_seconds' => 4,
	'queue_runner.batch_max_size' => 100,
	'queue_runner.batch_run_sleep' => 0.05,
	'queue_runner.queue_watermark_depth' => 100,
	'injector.processes' => 2,
	'controller.processes' => 3,
	'controller.job_timeout' => 30,
);

sub new {
	my ($class, %o) = @_;
	my %ini = (%INI, %{ delete $o{ini} // {} });
	my $t = GvTest->new(dbs => $o{dbs} // 2,
	    gearmands => $o{gearmands} // 1, name => $o{name},
	    own_mariadb => $o{own_mariadb});
	my $self = bless { t => $t, ini => \%ini, seq => 0, master => undef,
	    results => [], rows_elsewhere => $o{rows_elsewhere} }, $class;
	$self->{ini_path} = $t->write_ini(%ini);
	return $self;
}

sub t { $_[0]{t} }
sub ini { $_[0]{ini_path} }
sub lease { $_[0]{ini}{'queue_runner.lease_seconds'} }
sub master { $_[0]{master} }

# Rewrite the INI with these overrides on top of the suite's (for a HUP).
sub rewrite_ini {
	my ($self, %over) = @_;
	return $self->{t}->write_ini(%{ $self->{ini} }, %over);
}

# --- the master --------------------------------------------------------------

# Start garivini -c INI; wait until its status file says running with every
# pool up. env: passed to the master and so to every child; ini: another
# INI for the master than the consumers' and loaders' (roles behind a proxy).
sub start_master {
	my ($self, %o) = @_;
	my $t = $self->{t};
	croak "start_master: one runs already" if $self->{master};
	my $pid = $t->spawn({ env => $o{env} // {}, name => 'garivini' },
	    $t->build_path('garivini'), '-c', $o{ini} // $self->{ini_path});
	$t->wait_for('the master to run', 20, sub {
		my $st = $t->status_json;
		$st && $st->{master}{pid} == $pid &&
		    $st->{master}{state} eq 'running';
	}) or croak "the master did not start";
	$self->{master} = $pid;
	return $pid;
}

# A second master on the same servers, as on another host: the suite's INI
# with %over on top, written to b.ini, with a pidfile, status file and log
# of its own (b.pid, b.json, b.log). Returns its pid, INI and status file;
# stop it with $c->t->stop.
sub start_second_master {
	my ($self, %over) = @_;
	my $t = $self->{t};
	my $dir = $t->dir;
	my $ini = $t->write_ini(%{ $self->{ini} }, file => 'b.ini',
	    'garivini.pidfile' => "$dir/b.pid",
	    'garivini.status_file' => "$dir/b.json",
	    'garivini.prometheus_file' => "$dir/b.prom",
	    'garivini.log_file' => "$dir/b.log", %over);
	my $pid = $t->spawn({ name => 'garivini-b' }, $t->build_path('garivini'),
	    '-c', $ini);
	$t->wait_for('the second master to run', 20, sub {
		my $st = eval { $t->status_json("$dir/b.json") };
		$st && $st->{master}{state} eq 'running';
	}) or croak "the second master did not start";
	return ($pid, $ini, "$dir/b.json");
}

# Graceful stop; returns its exit code.
sub stop_master {
	my ($self, $timeout) = @_;
	my $pid = delete $self->{master} or return undef;
	return $self->{t}->stop($pid, 'TERM', $timeout // 20);
}

# Children of the master from its status file: [ { pid, pool, slot } ].
sub children {
	my ($self) = @_;
	my $st = $self->{t}->status_json or return [];
	return [ grep { $_->{pid} } @{ $st->{children} // [] } ];
}

sub pool_pids {
	my ($self, $pool) = @_;
	return map { $_->{pid} } grep { $_->{pool} eq $pool }
	    @{ $self->children };
}

# Wait until every configured slot of every pool runs again.
sub wait_pools_full {
	my ($self, $timeout) = @_;
	return $self->{t}->wait_pools(timeout => $timeout);
}

# Lines of the garivini log matching $re.
sub log_grep {
	my ($self, $re) = @_;
	open(my $fh, '<', $self->{t}->log_path) or return ();
	my @l = grep { $_ =~ $re } <$fh>;
	close $fh;
	return @l;
}

# --- load and consumers ------------------------------------------------------

# gv_consume workers for $func; returns their pids.
sub start_consumers {
	my ($self, $mode, $func, $out, %o) = @_;
	my $t = $self->{t};
	my @pids;
	for (1 .. ($o{n} // 2)) {
		push @pids, $t->spawn({ env => $o{env} // {},
		    name => "consume-$func" }, $t->build_path('gv_consume'),
		    '-c', $self->{ini_path}, '-f', $func, '-m', $mode,
		    '-o', $out, @{ $o{args} // [] });
	}
	return @pids;
}

sub start_loader {
	my ($self, $mode, $func, $prefix, $acks, $stop, %o) = @_;
	my $t = $self->{t};
	return $t->spawn({ env => $o{env} // {}, name => "load-$func" },
	    $^X, "$BIN/load.pl", '--mode', $mode, '--ini', $self->{ini_path},
	    '--func', $func, '--prefix', $prefix, '--acks', $acks,
	    '--stop', $stop, '--gv-inject', $t->build_path('gv_inject'),
	    '--servers', $t->gearman_servers,
	    '--per-round', $o{per_round} // ($mode eq 'latency' ? 40 : 100),
	    '--pause', $o{pause} // 0.1,
	    ($o{max_rounds} ? ('--max-rounds', $o{max_rounds}) : ()));
}

sub _lines {
	my ($file) = @_;
	open(my $fh, '<', $file) or return ();
	my @l = <$fh>;
	close $fh;
	chomp @l;
	return @l;
}

# How many times each arg ran, from gv_consume's lines.
sub runs {
	my ($out) = @_;
	my %n;
	$n{ $_->{arg} }++ for @{ GvTest->consume_runs($out) };
	return \%n;
}

# Rows left of $func, over every database.
sub rows_left {
	my ($self, $func) = @_;
	my $t = $self->{t};
	my $n = 0;
	$n += $t->count($_, 'funcname = ?', $func) for 1 .. $t->db_count;
	# Databases the test keeps elsewhere (shards on servers of their own).
	$n += $self->{rows_elsewhere}->($func) if $self->{rows_elsewhere};
	return $n;
}

sub _describe_rows {
	my ($self, $func) = @_;
	my $t = $self->{t};
	my @d;
	for my $db (1 .. $t->db_count) {
		my $rows = $t->dbh($db)->selectall_arrayref(
		    'SELECT jobid, CAST(arg AS CHAR), CAST(run_after AS SIGNED) '
		    . '- UNIX_TIMESTAMP(), failcount, attempt, leased FROM job '
		    . 'WHERE funcname = ? LIMIT 10', undef, $func);
		push @d, map { "db $db job $_->[0] arg $_->[1]: due in $_->[2] "
		    . "s, failcount $_->[3], attempt $_->[4], leased $_->[5]" }
		    @$rows;
	}
	return @d;
}

# --- a scenario --------------------------------------------------------------

# Start the consumers and the loader of one load; returns its state for
# finish_load. %o: consumers (2), consumer_env, consumer_args, env (the
# loader's, passed on to gv_inject), per_round, pause, max_rounds.
sub begin_load {
	my ($self, $name, $mode, %o) = @_;
	my $t = $self->{t};
	my $n = ++$self->{seq};
	(my $func = "chaos_${name}_$mode") =~ s/[^A-Za-z0-9_]/_/g;
	my $dir = $t->dir;
	my ($out, $acks, $stop) = map { "$dir/$func.$_" } qw(ran acks stop);
	unlink $out, $acks, $stop;
	my $l = { tag => "$name/$mode", func => $func, ran => $out,
	    acks => $acks, stop => $stop, opts => \%o };
	$l->{consumers} = [ $self->start_consumers($mode, $func, $out,
	    n => $o{consumers} // 2, env => $o{consumer_env},
	    args => $o{consumer_args}) ];
	$l->{loader} = $self->start_loader($mode, $func, "$func-$n", $acks,
	    $stop, env => $o{env}, per_round => $o{per_round},
	    pause => $o{pause}, max_rounds => $o{max_rounds});
	return $l;
}

# Stop the loader (at once, or when its rounds are done), wait for every row
# of the function to go, and reckon. %o: drain (seconds, 90), max_duplicates
# (a test of its own when given), quiet (no line in the results).
sub finish_load {
	my ($self, $l, %o) = @_;
	my $t = $self->{t};
	my ($tag, $func) = @$l{qw(tag func)};
	unless ($l->{opts}{max_rounds}) {
		open(my $fh, '>', $l->{stop}) or die "$l->{stop}: $!";
		close $fh;
	}
	my $code = $t->wait_exit($l->{loader}, 120);
	Test::More::is($code, 0, "$tag: the loader ended")
	    or $t->stop($l->{loader}, 'KILL');
	my $drained = $t->wait_for("$tag: every row of $func to go",
	    $o{drain} // 90, sub { $self->rows_left($func) == 0 });
	Test::More::diag("$tag: rows left: $_")
	    for $drained ? () : $self->_describe_rows($func);

	my $ran = runs($l->{ran});
	my @acked = _lines($l->{acks});
	my %acked = map { $_ => 1 } @acked;
	my ($completed, $dups, @lost) = (0, 0);
	for my $arg (@acked) {
		my $k = $ran->{$arg} // 0;
		if ($k == 0) {
			push @lost, $arg;
			next;
		}
		$completed++;
		$dups++ if $k > 1;
	}
	my $extra = grep { !$acked{$_} } keys %$ran;
	my $line = sprintf('%s: acknowledged %d, completed %d, lost %d, '
	    . 'duplicates %d', $tag, scalar(@acked), $completed,
	    scalar(@lost), $dups);
	Test::More::diag($line);
	Test::More::note("$tag: $extra jobs ran that the client was not "
	    . "promised (refused, but stored)") if $extra;
	push @{ $self->{results} }, $line;

	Test::More::cmp_ok(scalar(@acked), '>', 0, "$tag: jobs were "
	    . "acknowledged") unless $o{may_ack_none};
	Test::More::ok($drained, "$tag: every row is gone");
	Test::More::is(scalar(@lost), 0, "$tag: no acknowledged job lost")
	    or Test::More::diag("$tag: lost: "
	    . join(' ', @lost[0 .. ($#lost > 9 ? 9 : $#lost)]));
	Test::More::cmp_ok($dups, '<=', $o{max_duplicates},
	    "$tag: at most $o{max_duplicates} duplicates")
	    if defined $o{max_duplicates};
	for my $pid (@{ $l->{consumers} }) {
		Test::More::ok($t->running($pid), "$tag: consumer $pid lived "
		    . "through it") or Test::More::diag("$tag: consumer $pid "
		    . "exited with " . ($t->wait_exit($pid, 0) // '?'));
	}
	kill 'TERM', @{ $l->{consumers} };
	$t->wait_exit($_, 10) for @{ $l->{consumers} };
	return { acked => scalar(@acked), completed => $completed,
	    lost => scalar(@lost), duplicates => $dups, line => $line,
	    extra => $extra };
}

# Run one scenario. $fault is called while jobs flow, with this object and
# { consumers => [pids], func => F, ran => FILE }; it breaks something and
# returns when it is over. %o: as for begin_load and finish_load, and
# load_seconds (jobs flow this long before the fault, 1), after_seconds (and
# after it, 1).
sub scenario {
	my ($self, $name, $mode, $fault, %o) = @_;
	my $t = $self->{t};
	my $l = $self->begin_load($name, $mode, %o);
	$t->wait_for("$l->{tag}: jobs to flow", 30, sub {
		keys %{ runs($l->{ran}) } >= 50
	});
	sleep($o{load_seconds} // 1);
	$fault->($self, { consumers => $l->{consumers}, func => $l->{func},
	    ran => $l->{ran} }) if $fault;
	sleep($o{after_seconds} // 1);
	return $self->finish_load($l, %o);
}

sub results { @{ $_[0]{results} } }

# --- faults ------------------------------------------------------------------

# The live children of a process, from /proc (not the status file, whose
# pids may be a moment old: a signal must never reach a stranger).
sub proc_children {
	my ($ppid) = @_;
	my @pids;
	opendir(my $d, '/proc') or return ();
	for my $pid (grep { /^\d+$/ } readdir $d) {
		open(my $fh, '<', "/proc/$pid/stat") or next;
		my $stat = <$fh> // '';
		close $fh;
		# pid (comm) state ppid: comm may hold spaces and parentheses.
		push @pids, $pid if $stat =~ /\) (\S) (\d+) / && $2 == $ppid &&
		    $1 ne 'Z';
	}
	closedir $d;
	return @pids;
}

# Kill random children of the master with SIGKILL for $seconds, one every
# $every seconds. Returns how many were killed.
sub kill_children {
	my ($self, $seconds, $every) = @_;
	my $end = time + $seconds;
	my $killed = 0;
	while (time < $end) {
		my @pids = proc_children($self->{master});
		if (@pids) {
			$killed += kill('KILL', $pids[int(rand(@pids))]);
		}
		sleep $every;
	}
	return $killed;
}

1;
