package GvTest;

# Test harness for Garivini's real-server tests (tests/t/*.t, run by
# `prove -I tests/lib tests/t`). One GvTest object per test file owns a
# temporary directory, a private MariaDB, private gearmands and every process
# the test spawns, and tears all of it down at the end, however the test ends.
# The methods are documented in the POD at the end of this file.

use strict;
use warnings;

use Carp qw(croak);
use Cwd qw(abs_path);
use DBI;
use File::Basename qw(basename dirname);
use File::Path qw(remove_tree);
use File::Temp qw(tempdir);
use IO::Handle;
use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG _exit setpgid);
use Scalar::Util qw(refaddr weaken);
use Test::More ();
use Time::HiRes qw(sleep time);

our $VERSION = '0.1';

my $REPO = abs_path(dirname(abs_path(__FILE__)) . '/../..');
my $SCHEMA = "$REPO/schema.sql";

# Generous on purpose: a loaded CI machine with two cores can take a while
# to recover InnoDB or to start a sanitizer build.
my $MARIADB_START_SECONDS = 60;
my $MARIADB_STOP_SECONDS = 60;
my $GEARMAND_START_SECONDS = 30;
my $TEARDOWN_GRACE_SECONDS = 5;
my $POLL_SECONDS = 0.05;

# Every object not yet torn down, weakly held, so the END block can reach the
# ones a test still holds when it dies or exits.
my %LIVE;

# How many databases sets this process took from the shared MariaDB.
my $SHARED_SEQ = 0;

sub new {
	my ($class, %args) = @_;
	my $ndbs = $args{dbs} // 2;
	my $ngearmands = $args{gearmands} // 1;
	croak "GvTest->new: dbs must be 0 or more" if $ndbs !~ /^\d+$/;
	croak "GvTest->new: gearmands must be 0 or more"
	    if $ngearmands !~ /^\d+$/;

	my $name = $args{name} // basename($0);
	$name =~ s/\.t$//;
	$name =~ s/[^A-Za-z0-9_-]+/_/g;
	# In /tmp and short: the MariaDB socket path must fit in sun_path.
	my $dir = tempdir("gv-$name-XXXXXX", TMPDIR => 1, CLEANUP => 0);

	my $self = bless {
		owner => $$,
		dir => $dir,
		name => $name,
		ndbs => $ndbs,
		own_mariadb => $args{own_mariadb} ? 1 : 0,
		gearmand => [],
		procs => {},
		tracked => {},
		dbh => {},
		spawned => 0,
		keep => ($ENV{GV_TEST_KEEP} // '') eq '1',
	}, $class;
	$LIVE{refaddr($self)} = $self;
	weaken($LIVE{refaddr($self)});
	_install_signal_handlers();

	eval {
		$self->_mariadb_init if $ndbs > 0;
		$self->_gearmand_init($ngearmands);
		1;
	} or do {
		my $err = $@;
		$self->teardown;
		die $err;
	};
	return $self;
}

# --- paths -----------------------------------------------------------------

sub dir { $_[0]{dir} }

sub build_dir {
	my $b = $ENV{GV_BUILD} // "$REPO/build";
	return $b =~ m{^/} ? $b : abs_path($b) // "$REPO/$b";
}

sub build_path {
	my ($self, $name) = @_;
	my $path = build_dir() . "/$name";
	croak "$path does not exist or is not executable (build it first; "
	    . "GV_BUILD=" . build_dir() . ")" unless -f $path && -x _;
	return $path;
}

sub repo_dir { $REPO }
sub schema_path { $SCHEMA }

sub ini_path { "$_[0]{dir}/garivini.ini" }
sub log_path { "$_[0]{dir}/garivini.log" }
sub status_path { "$_[0]{dir}/status.json" }
sub pid_path { "$_[0]{dir}/garivini.pid" }

# Debian keeps the servers in /usr/sbin, which a non-root PATH lacks.
sub _find_program {
	my ($prog) = @_;
	for my $d (split(/:/, $ENV{PATH} // ''), qw(/usr/sbin /sbin
	    /usr/local/sbin)) {
		next if $d eq '';
		return "$d/$prog" if -f "$d/$prog" && -x _;
	}
	croak "$prog not found in PATH or /usr/sbin "
	    . "(run scripts/setup.sh to install the test dependencies)";
}

sub _tail {
	my ($file, $lines) = @_;
	$lines //= 30;
	open(my $fh, '<', $file) or return "($file: $!)\n";
	my @all = <$fh>;
	close $fh;
	return '' unless @all;
	splice(@all, 0, @all - $lines) if @all > $lines;
	return "--- last lines of $file:\n" . join('', @all);
}

sub _free_port {
	my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
	    Proto => 'tcp', Listen => 1, ReuseAddr => 1)
	    or croak "cannot bind a free port on 127.0.0.1: $!";
	my $port = $s->sockport;
	close $s;
	return $port;
}

# --- processes -------------------------------------------------------------

# fork + exec with stdin/stdout/stderr redirected; the child leads its own
# process group so that teardown can kill whatever it forks, and a Ctrl-C on
# the terminal reaches the test (which then tears down) rather than racing it.
sub _fork_exec {
	my (%o) = @_;
	my @cmd = @{ $o{cmd} };
	# Reopening STDOUT in the child would flush a copy of anything still
	# buffered here (TAP lines) a second time.
	STDOUT->flush;
	STDERR->flush;
	my $pid = fork;
	croak "fork: $!" unless defined $pid;
	if ($pid == 0) {
		eval {
			local $SIG{__DIE__};
			setpgid(0, 0);
			$SIG{$_} = 'DEFAULT'
			    for qw(INT TERM HUP QUIT PIPE CHLD USR1 USR2 ALRM);
			POSIX::sigprocmask(POSIX::SIG_SETMASK(),
			    POSIX::SigSet->new);
			my $in = $o{stdin} // '/dev/null';
			open(STDIN, '<', $in) or die "$in: $!";
			if (defined $o{stdout}) {
				open(STDOUT, '>>', $o{stdout})
				    or die "$o{stdout}: $!";
				open(STDERR, '>>', $o{stderr})
				    or die "$o{stderr}: $!";
			}
			if ($o{env}) {
				while (my ($k, $v) = each %{ $o{env} }) {
					if (defined $v) { $ENV{$k} = $v }
					else { delete $ENV{$k} }
				}
			}
			chdir $o{chdir} or die "chdir $o{chdir}: $!"
			    if defined $o{chdir};
			{ exec { $cmd[0] } @cmd; }
			die "exec $cmd[0]: $!\n";
		};
		print STDERR "GvTest: $@";
		# Never run the parent's END blocks or destructors here.
		_exit(127);
	}
	return $pid;
}

sub _decode_status {
	my ($status) = @_;
	return $status & 127 ? 128 + ($status & 127) : $status >> 8;
}

# Wait up to $timeout seconds for a child (or, when it is not ours, for any
# process) to exit. Returns the raw wait status, 0 for a process that is not
# our child, or undef on timeout.
sub _wait_pid {
	my ($pid, $timeout) = @_;
	my $deadline = time + $timeout;
	while (1) {
		my $r = waitpid($pid, WNOHANG);
		return $? if $r == $pid;
		if ($r == -1) {
			# Not our child: all we can observe is that it is gone.
			return 0 unless kill(0, $pid);
		}
		return undef if time >= $deadline;
		sleep $POLL_SECONDS;
	}
}

sub _signum {
	my ($sig) = @_;
	return $sig if $sig =~ /^\d+$/;
	$sig =~ s/^SIG//;
	my $n = eval "POSIX::SIG$sig()";
	croak "unknown signal $sig" unless defined $n;
	return $n;
}

sub spawn {
	my $self = shift;
	my $opt = ref $_[0] eq 'HASH' ? shift : {};
	my @cmd = @_;
	croak "spawn: no command" unless @cmd;
	my $n = ++$self->{spawned};
	my $name = $opt->{name} // basename($cmd[0]);
	$name =~ s/[^A-Za-z0-9_.-]+/_/g;
	my $out = $opt->{inherit} ? undef : "$self->{dir}/$name.$n.out";
	my $pid = _fork_exec(cmd => \@cmd, stdout => $out, stderr => $out,
	    env => $opt->{env}, stdin => $opt->{stdin},
	    chdir => $opt->{chdir});
	$self->{procs}{$pid} = { cmd => \@cmd, out => $out, status => undef };
	return $pid;
}

sub spawn_out {
	my ($self, $pid) = @_;
	my $p = $self->{procs}{$pid} or croak "spawn_out: $pid was not spawned";
	return $p->{out};
}

sub track {
	my ($self, $pid) = @_;
	$self->{tracked}{$pid} = 1;
	return $pid;
}

sub running {
	my ($self, $pid) = @_;
	my $p = $self->{procs}{$pid};
	return 0 if $p && defined $p->{status};
	if ($p) {
		my $r = waitpid($pid, WNOHANG);
		if ($r == $pid) {
			$p->{status} = $?;
			return 0;
		}
	}
	return kill(0, $pid) ? 1 : 0;
}

sub wait_exit {
	my ($self, $pid, $timeout) = @_;
	$timeout //= 10;
	my $p = $self->{procs}{$pid};
	return _decode_status($p->{status}) if $p && defined $p->{status};
	my $status = _wait_pid($pid, $timeout);
	return undef unless defined $status;
	$p->{status} = $status if $p;
	return _decode_status($status);
}

sub stop {
	my ($self, $pid, $signal, $timeout) = @_;
	$signal //= 'TERM';
	$timeout //= 10;
	my $p = $self->{procs}{$pid};
	return _decode_status($p->{status}) if $p && defined $p->{status};
	kill(_signum($signal), $pid);
	return $self->wait_exit($pid, $timeout);
}

sub run {
	my $self = shift;
	my $opt = ref $_[0] eq 'HASH' ? shift : {};
	my @cmd = @_;
	croak "run: no command" unless @cmd;
	my $n = ++$self->{spawned};
	my $base = "$self->{dir}/run.$n";
	my $stdin;
	if (defined $opt->{stdin}) {
		$stdin = "$base.stdin";
		_write_file($stdin, $opt->{stdin});
	}
	my $pid = _fork_exec(cmd => \@cmd, stdout => "$base.stdout",
	    stderr => "$base.stderr", stdin => $stdin, env => $opt->{env},
	    chdir => $opt->{chdir});
	my $status = _wait_pid($pid, $opt->{timeout} // 60);
	my $code;
	if (defined $status) {
		$code = _decode_status($status);
	} else {
		Test::More::diag("run: '@cmd' still running after "
		    . ($opt->{timeout} // 60) . " s; killed");
		kill('KILL', -$pid);
		waitpid($pid, 0);
	}
	return ($code, _read_file("$base.stdout"), _read_file("$base.stderr"));
}

sub _read_file {
	my ($path) = @_;
	open(my $fh, '<', $path) or return '';
	local $/;
	my $s = <$fh>;
	close $fh;
	return $s // '';
}

sub _write_file {
	my ($path, $content) = @_;
	open(my $fh, '>', $path) or croak "$path: $!";
	print {$fh} $content;
	close $fh or croak "$path: $!";
}

# --- waiting ---------------------------------------------------------------

sub wait_for {
	my ($self, $what, $timeout, $cond) = @_;
	my $deadline = time + $timeout;
	while (1) {
		return 1 if $cond->();
		if (time >= $deadline) {
			Test::More::fail("timed out after $timeout s waiting for "
			    . $what);
			return 0;
		}
		sleep $POLL_SECONDS;
	}
}

sub wait_for_log {
	my ($self, $re, $timeout, $file) = @_;
	$file //= $self->log_path;
	my $line;
	$self->wait_for("/$re/ in $file", $timeout, sub {
		open(my $fh, '<', $file) or return 0;
		while (my $l = <$fh>) {
			if ($l =~ $re) {
				$line = $l;
				last;
			}
		}
		close $fh;
		return defined $line;
	}) or return undef;
	return $line;
}

# The most of $intervals ([start, end, ...], ...) open at the same time:
# how many jobs ran at once, from when each started and ended. A function,
# not a method.
sub max_overlap {
	my ($intervals) = @_;
	my @ev = sort { $a->[0] <=> $b->[0] || $a->[1] <=> $b->[1] }
	    (map { ([$_->[0], 1], [$_->[1], -1]) } @$intervals);
	my ($now, $max) = (0, 0);
	for (@ev) {
		$now += $_->[1];
		$max = $now if $now > $max;
	}
	return $max;
}

# $n Perl Gearman::Worker processes, the kind of worker a user of the
# original writes: for each [function, seconds, result] of @funcs, each works
# the function, decoding the job document and sleeping that long per job (or,
# when seconds is a path, until that file exists), then answers result (any
# bytes; 'done' when not given). Every job appends a line to $out: function,
# jobid, start, end (time()), priority and unique key, tab-separated.
# Returns their pids.
sub perl_workers {
	my ($self, $n, $out, @funcs) = @_;
	my $script = "$self->{dir}/perl-worker.pl";
	_write_file($script, <<'PERL') unless -e $script;
use strict;
use warnings;
use Gearman::Worker;
use JSON::PP;
use Time::HiRes qw(time sleep);
my ($servers, $out, @funcs) = @ARGV;
my $w = Gearman::Worker->new(job_servers => [split /,/, $servers]);
while (my ($func, $secs, $file) = splice(@funcs, 0, 3)) {
    open(my $in, '<:raw', $file) or die "$file: $!";
    my $result = do { local $/; <$in> } // '';
    close $in;
    $w->register_function($func => sub {
        my $job = decode_json(${ $_[0]->argref });
        my $start = time;
        if ($secs =~ /^[\d.]+$/) {
            sleep $secs if $secs > 0;
        } else {
            sleep 0.05 until -e $secs;
        }
        open(my $fh, '>>', $out) or die "$out: $!";
        printf $fh "%s\t%s\t%.3f\t%.3f\t%s\t%s\t%s\n", $func,
            $job->{jobid}, $start, time, $job->{priority} // '',
            $job->{uniqkey} // '', $job->{dbid} // '';
        close $fh;
        return $result;
    });
}
$w->work while 1;
PERL
	# Each result goes in a file: an argument holds no NUL, nor 128 KB.
	my @args;
	for my $f (@funcs) {
		my $file = "$self->{dir}/perl-worker-result." . ++$self->{results};
		_write_file($file, $f->[2] // 'done');
		push @args, $f->[0], $f->[1], $file;
	}
	return map { $self->spawn('perl', $script, $self->gearman_servers, $out,
	    @args) } 1 .. $n;
}

# The lines perl_workers wrote to $out, each [function, jobid, start, end,
# priority, uniqkey, dbid], in the order the jobs ended.
sub perl_worker_runs {
	my ($self, $out) = @_;
	open(my $fh, '<', $out) or return [];
	my @runs = map { chomp; [split /\t/, $_, -1] } <$fh>;
	close $fh;
	return \@runs;
}

# What ps shows as the command line of $pid ('' when it is gone).
sub process_title {
	my ($pid) = @_;
	my $args = `ps -o args= -p $pid`;
	$args =~ s/\s+$//;
	return $args;
}

# The lines gv_consume wrote to $file (-o), one a job started, each
# { dbid, jobid, attempt, failcount, arg }, in the order they were written.
# arg is decoded: gv_consume writes its bytes outside printable ASCII, and
# backslash, as \xHH. A line not yet whole (fewer than five fields) is left
# out.
sub consume_runs {
	my ($self, $file) = @_;
	open(my $fh, '<', $file) or return [];
	my @runs;
	while (my $line = <$fh>) {
		chomp $line;
		my %run;
		@run{qw(dbid jobid attempt failcount arg)} = split /\t/, $line, 5;
		next unless defined $run{arg};
		$run{arg} =~ s/\\x([0-9a-fA-F]{2})/chr(hex($1))/ge;
		push @runs, \%run;
	}
	close $fh;
	return \@runs;
}

# --- Garivini's clients ----------------------------------------------------

# Perl's Gearman::Client on gearman_servers, one per object.
sub _gearman_client {
	my ($self) = @_;
	require Gearman::Client;
	return $self->{gearman_client} //= Gearman::Client->new(
	    job_servers => [split /,/, $self->gearman_servers]);
}

# One inject_jobs call through Perl's Gearman::Client, as a user of the
# original would make it: %job is the document. Returns the decoded reply
# ({ jobid, dbid }); dies when the call fails or times out (30 s).
sub inject_job {
	my ($self, %job) = @_;
	require JSON::PP;
	my $reply = $self->_gearman_client->do_task('inject_jobs',
	    JSON::PP::encode_json(\%job), { timeout => 30 });
	die "inject_jobs failed\n" unless defined $reply;
	return JSON::PP::decode_json($$reply);
}

# One call of function $func with $payload as its bytes, for a test that
# looks at how it is refused: ($reply or undef, $failed, $warnings), the
# warnings being every WORK_WARNING's message run together.
sub gearman_call {
	my ($self, $func, $payload, %o) = @_;
	my ($failed, $warning) = (0, '');
	my $reply = $self->_gearman_client->do_task($func, $payload, {
		on_warning => sub { $warning .= ref $_[0] ? ${ $_[0] } : $_[0] },
		on_fail => sub { $failed = 1 },
		timeout => $o{timeout} // 30,
	});
	return (!$failed && $reply ? $$reply : undef, $failed, $warning);
}

# gv_inject -c $ini with -m mode, -f func, -n n, -a arg, -p priority where
# given, then @{ args }. Returns ($code, $stdout, $stderr) as run does.
sub gv_inject {
	my ($self, $ini, %o) = @_;
	croak "gv_inject: func is required" unless defined $o{func};
	my @cmd = ($self->build_path('gv_inject'), '-c', $ini);
	push @cmd, '-m', $o{mode} if defined $o{mode};
	push @cmd, '-f', $o{func};
	push @cmd, '-n', $o{n} if defined $o{n};
	push @cmd, '-p', $o{priority} if defined $o{priority};
	push @cmd, '-a', $o{arg} if defined $o{arg};
	return $self->run(@cmd, @{ $o{args} // [] });
}

# gv_inject as a test: passes when it exits 0, and shows its stderr when it
# does not. Returns the test's result.
sub gv_inject_ok {
	my ($self, $ini, $name, %o) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($code, undef, $err) = $self->gv_inject($ini, %o);
	my $ok = Test::More::is($code, 0, $name);
	Test::More::diag($err) unless $ok;
	return $ok;
}

# gvctl -c $ini @args: ($code, $stdout, $stderr) as run returns them.
sub gvctl {
	my ($self, $ini, @args) = @_;
	return $self->run($self->build_path('gvctl'), '-c', $ini, @args);
}

# gvctl --json as a test: passes when it prints JSON. Returns ($code, the
# decoded document or undef, $stderr).
sub gvctl_json {
	my ($self, $ini, @args) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	require JSON::PP;
	my ($code, $out, $err) = $self->gvctl($ini, '--json', @args);
	my $doc = eval { JSON::PP->new->utf8->decode($out) };
	Test::More::ok($doc, "gvctl --json @args prints JSON")
	    or Test::More::diag("$code $out $err");
	return ($code, $doc, $err);
}

# --- MariaDB ---------------------------------------------------------------

my $DRIVER;

sub _driver {
	return $DRIVER if $DRIVER;
	for my $d (qw(MariaDB mysql)) {
		if (eval "require DBD::$d; 1") {
			$DRIVER = $d;
			return $d;
		}
	}
	croak "neither DBD::MariaDB nor DBD::mysql is installed "
	    . "(run scripts/setup.sh)";
}

sub _dsn {
	my (%a) = @_;
	my $d = _driver();
	my $p = $d eq 'MariaDB' ? 'mariadb' : 'mysql';
	my @parts;
	push @parts, "database=$a{database}" if defined $a{database};
	if (defined $a{socket}) {
		push @parts, "${p}_socket=$a{socket}";
	} else {
		push @parts, "host=$a{host}", "port=$a{port}";
	}
	push @parts, "${p}_connect_timeout=" . ($a{connect_timeout} // 10);
	return "DBI:$d:" . join(';', @parts);
}

sub _connect {
	my (%a) = @_;
	return DBI->connect(_dsn(%a), $a{user}, $a{password},
	    { RaiseError => 1, PrintError => 0, AutoCommit => 1 });
}

# The MariaDB that gv-prove started for every test file of a run, as
# SOCKET:PORT; a test that stops, kills or reconfigures its server asks for
# its own (new(own_mariadb => 1)).
sub _shared_mariadb {
	my ($self) = @_;
	my $spec = $ENV{GV_TEST_SHARED_MARIADB} // '';
	return undef if $spec eq '' || $self->{own_mariadb};
	my ($socket, $port) = $spec =~ /^(.+):(\d+)$/
	    or croak "GV_TEST_SHARED_MARIADB must be SOCKET:PORT, not '$spec'";
	(my $prefix = lc $self->{name}) =~ s/[^a-z0-9]+/_/g;
	# A fresh database per test file and object: the name says whose, and
	# the pid keeps two runs of one file (prove -j) apart.
	my $n = ++$SHARED_SEQ;
	return {
		external => 1, shared => 1,
		host => '127.0.0.1', port => $port, socket => $socket,
		user => 'garivini', password => 'garivini',
		admin => { socket => $socket, user => 'root', password => '' },
		names => [map { substr("gv_${prefix}", 0, 40) . "_${$}_${n}_$_" }
		    1 .. $self->{ndbs}],
	};
}

sub _mariadb_init {
	my ($self) = @_;
	if (my $shared = $self->_shared_mariadb) {
		$self->{my} = $shared;
	} elsif (defined $ENV{GV_TEST_MYSQL} && $ENV{GV_TEST_MYSQL} ne '') {
		my ($host, $port, $user, $password) =
		    split(/:/, $ENV{GV_TEST_MYSQL}, 4);
		croak "GV_TEST_MYSQL must be host:port:user:password"
		    unless defined $port && $port =~ /^\d+$/ && defined $user;
		$self->{my} = {
			external => 1,
			host => $host, port => $port,
			user => $user, password => $password // '',
			admin => { host => $host, port => $port, user => $user,
			    password => $password // '' },
			names => [map { "gvtest_${$}_$_" } 1 .. $self->{ndbs}],
		};
	} else {
		$self->_mariadb_private;
	}
	$self->_mariadb_create_dbs;
}

# A MariaDB of this object's own, installed in DIR and started.
sub _mariadb_private {
	my ($self, %o) = @_;
	my $dir = $self->{dir};
	my $os_user = getpwuid($<) // croak "no passwd entry for uid $<";
	$self->{my} = {
		external => 0,
		host => '127.0.0.1',
		port => _free_port(),
		user => 'garivini', password => 'garivini',
		os_user => $os_user,
		datadir => "$dir/mysql/data",
		socket => "$dir/mysql.sock",
		errlog => "$dir/mysql.err",
		admin => { socket => "$dir/mysql.sock", user => 'root',
		    password => '' },
		names => [map { "gv$_" } 1 .. $self->{ndbs}],
		max_connections => $o{max_connections} // 300,
	};
	$self->_mariadb_install;
	$self->start_mariadb;
}

# The MariaDB that tests/bin/gv-prove shares between the test files of one
# run: started here, with the account the tests' INIs use; each test file
# makes and drops databases of its own in it. Returns the value of
# GV_TEST_SHARED_MARIADB. Two test files at once (prove -j2) each run a
# master with its pools, so it takes more connections than a test's own.
sub start_shared_mariadb {
	my ($self) = @_;
	$self->_mariadb_private(max_connections => 1000);
	_create_test_accounts($self->_admin_dbh);
	return "$self->{my}{socket}:$self->{my}{port}";
}

# Options shared by the bootstrap and the server, so that InnoDB creates its
# redo log at the final size once instead of resizing it on first start.
sub _mariadb_innodb_args {
	return ('--innodb-buffer-pool-size=256M', '--innodb-log-file-size=256M');
}

sub _mariadb_install {
	my ($self) = @_;
	my $m = $self->{my};
	mariadb_install_datadir(datadir => $m->{datadir}, user => $m->{os_user},
	    log => "$self->{dir}/mysql-install.log");
}

# mariadb-install-db into $o{datadir} for OS user $o{user}, its output in
# $o{log}; $o{innodb}: the InnoDB sizes the server will run with (default
# GvTest's). Dies with the errors of the log. A function, for GvGalera too.
# A temporary directory of the server's own, beside its datadir: in the
# shared /tmp, the temporary tables of servers installing or running at the
# same time have been seen to trip over each other ("Could not remove
# temporary table").
sub _mariadb_tmpdir_arg {
	my ($datadir) = @_;
	my $tmp = dirname($datadir) . '/tmp';
	File::Path::make_path($tmp);
	# As /tmp is: the server may run as another user (GvGalera's mysql).
	chmod(01777, $tmp) or croak "chmod $tmp: $!";
	return "--tmpdir=$tmp";
}

sub mariadb_install_datadir {
	my (%o) = @_;
	my $log = $o{log};
	# --rpm: without it, an install run by root with --user chowns the
	# system's auth_pam_tool_dir to that user, changing the host's MariaDB.
	# It also skips the banner and the DNS self-check.
	my @cmd = (_find_program('mariadb-install-db'), '--no-defaults',
	    '--rpm', "--datadir=$o{datadir}", "--user=$o{user}",
	    '--auth-root-authentication-method=normal', '--skip-test-db',
	    '--skip-name-resolve', _mariadb_tmpdir_arg($o{datadir}),
	    @{ $o{innodb} // [_mariadb_innodb_args()] });
	# Two installs starting at the same moment (prove -j2) have been seen
	# to fail once: try a second time on a clean datadir before failing.
	for my $try (1, 2) {
		my $pid = _fork_exec(cmd => \@cmd, stdout => $log,
		    stderr => $log);
		my $status = _wait_pid($pid, 120);
		return if defined $status && $status == 0;
		kill('KILL', -$pid) unless defined $status;
		my @errors;
		if (open(my $fh, '<', $log)) {
			@errors = grep { /\[ERROR\]|error/i } <$fh>;
		}
		if ($try == 2) {
			die "mariadb-install-db failed twice\n"
			    . join('', @errors[0 .. ($#errors < 9 ? $#errors : 9)])
			    . _tail($log);
		}
		Test::More::diag("mariadb-install-db failed, trying again: "
		    . ($errors[0] // "(no error line)"));
		remove_tree($o{datadir});
		sleep 1;
	}
}

sub _mariadb_server_args {
	my ($self) = @_;
	my $m = $self->{my};
	return mariadb_server_command(datadir => $m->{datadir},
	    socket => $m->{socket}, port => $m->{port},
	    pidfile => "$self->{dir}/mysql.pid", errlog => $m->{errlog},
	    user => $m->{os_user}, max_connections => $m->{max_connections});
}

# The mariadbd command line of a test server: datadir, socket, port,
# pidfile, errlog, user (OS), max_connections (300), innodb (the sizes,
# default GvTest's), then @{ $o{args} }. A function, for GvGalera too.
sub mariadb_server_command {
	my (%o) = @_;
	return (_find_program('mariadbd'), '--no-defaults',
	    "--datadir=$o{datadir}", "--socket=$o{socket}",
	    "--port=$o{port}", '--bind-address=127.0.0.1',
	    "--pid-file=$o{pidfile}", "--log-error=$o{errlog}",
	    "--user=$o{user}", '--skip-name-resolve',
	    _mariadb_tmpdir_arg($o{datadir}), '--max-allowed-packet=64M',
	    @{ $o{innodb} // [_mariadb_innodb_args()] },
	    # Debian's packaged server defaults (50-server.cnf), which
	    # --no-defaults drops: test against what users run.
	    '--character-set-server=utf8mb4',
	    '--collation-server=utf8mb4_general_ci',
	    # Small and quick to start and stop; durability stays the
	    # default (innodb_flush_log_at_trx_commit=1).
	    '--skip-log-bin', '--performance-schema=OFF',
	    '--innodb-buffer-pool-load-at-startup=OFF',
	    '--innodb-buffer-pool-dump-at-shutdown=OFF',
	    '--table-open-cache=400',
	    "--max-connections=" . ($o{max_connections} // 300),
	    @{ $o{args} // [] });
}

sub start_mariadb {
	my ($self) = @_;
	my $m = $self->{my} or croak "start_mariadb: no MariaDB in this test";
	croak "start_mariadb: " . ($m->{shared} ? "this test shares the "
	    . "suite's MariaDB; GvTest->new(own_mariadb => 1) gives it one "
	    . "of its own" : "GV_TEST_MYSQL points at an external server")
	    if $m->{external};
	croak "start_mariadb: already running (pid $m->{pid})" if $m->{pid};
	$self->_forget_dbhs;
	my @cmd = $self->_mariadb_server_args;
	my $out = "$self->{dir}/mysql.out";
	my $pid = _fork_exec(cmd => \@cmd, stdout => $out, stderr => $out);
	$m->{pid} = $pid;

	my $deadline = time + $MARIADB_START_SECONDS;
	while (1) {
		if (waitpid($pid, WNOHANG) == $pid) {
			my $code = _decode_status($?);
			delete $m->{pid};
			die "mariadbd exited with $code while starting\n"
			    . _tail($m->{errlog}) . _tail($out, 10);
		}
		if (-S $m->{socket}) {
			my $dbh = eval {
				_connect(%{ $m->{admin} }, connect_timeout => 2)
			};
			if ($dbh) {
				$self->{admin_dbh} = $dbh;
				return 1;
			}
		}
		if (time >= $deadline) {
			die "mariadbd did not answer within "
			    . "$MARIADB_START_SECONDS s\n" . _tail($m->{errlog});
		}
		sleep $POLL_SECONDS;
	}
}

sub stop_mariadb {
	my ($self, $signal) = @_;
	$signal //= 'TERM';
	my $m = $self->{my} or croak "stop_mariadb: no MariaDB in this test";
	croak "stop_mariadb: " . ($m->{shared} ? "this test shares the "
	    . "suite's MariaDB; GvTest->new(own_mariadb => 1) gives it one "
	    . "of its own" : "GV_TEST_MYSQL points at an external server")
	    if $m->{external};
	my $pid = delete $m->{pid} or croak "stop_mariadb: not running";
	$self->_forget_dbhs;
	kill(_signum($signal), $pid);
	my $status = _wait_pid($pid, $MARIADB_STOP_SECONDS);
	unless (defined $status) {
		kill('KILL', $pid);
		$status = _wait_pid($pid, 10);
		croak "stop_mariadb: mariadbd did not stop after SIG$signal "
		    . "nor after SIGKILL" unless defined $status;
	}
	return _decode_status($status);
}

sub _forget_dbhs {
	my ($self) = @_;
	for my $dbh (values %{ $self->{dbh} }, $self->{admin_dbh} // ()) {
		eval { local $SIG{__DIE__}; $dbh->disconnect };
	}
	$self->{dbh} = {};
	delete $self->{admin_dbh};
}

sub _admin_dbh {
	my ($self) = @_;
	my $dbh = $self->{admin_dbh};
	return $dbh if $dbh && eval { $dbh->ping };
	$self->{admin_dbh} = _connect(%{ $self->{my}{admin} });
	return $self->{admin_dbh};
}

sub _schema_statements {
	open(my $fh, '<', $SCHEMA) or croak "$SCHEMA: $!";
	my $sql = join('', grep { !/^\s*--/ } <$fh>);
	close $fh;
	return grep { /\S/ } split(/;\s*(?:\n|$)/, $sql);
}

# The account the tests' INIs use: at 127.0.0.1 for TCP (names are not
# resolved), at localhost for the socket.
sub _test_accounts {
	return map { "'garivini'\@'$_'" } qw(127.0.0.1 localhost);
}

sub _create_test_accounts {
	my ($dbh) = @_;
	$dbh->do("CREATE USER IF NOT EXISTS $_ IDENTIFIED BY 'garivini'")
	    for _test_accounts();
}

sub _mariadb_create_dbs {
	my ($self) = @_;
	my $m = $self->{my};
	my $dbh = $self->_admin_dbh;
	my @stmts = _schema_statements();
	_create_test_accounts($dbh) unless $m->{external};
	my @accounts = !$m->{external} || $m->{shared} ? _test_accounts() : ();
	for my $name (@{ $m->{names} }) {
		$dbh->do("DROP DATABASE IF EXISTS `$name`") if $m->{external};
		$dbh->do("CREATE DATABASE `$name`");
		$m->{created}{$name} = 1;
		$dbh->do("GRANT ALL PRIVILEGES ON `$name`.* TO $_")
		    for @accounts;
		$dbh->do("USE `$name`");
		$dbh->do($_) for @stmts;
	}
}

sub _mariadb_drop_dbs {
	my ($self) = @_;
	my $m = $self->{my};
	my @names = sort keys %{ $m->{created} // {} };
	return unless @names;
	my $dbh = $self->_admin_dbh;
	$dbh->do("DROP DATABASE IF EXISTS `$_`") for @names;
	delete $m->{created};
}

sub _check_dbid {
	my ($self, $dbid) = @_;
	my $m = $self->{my} or croak "no MariaDB in this test (dbs => 0)";
	croak "no database $dbid (this test has $self->{ndbs})"
	    unless defined $dbid && $dbid =~ /^\d+$/ && $dbid >= 1
	    && $dbid <= $self->{ndbs};
	return $m;
}

sub db_name {
	my ($self, $dbid) = @_;
	return $self->_check_dbid($dbid)->{names}[$dbid - 1];
}

sub db_count { $_[0]{ndbs} }
sub db_host { $_[0]{my} ? $_[0]{my}{host} : undef }
sub db_port { $_[0]{my} ? $_[0]{my}{port} : undef }
sub db_socket { $_[0]{my} ? $_[0]{my}{socket} : undef }
sub db_user { $_[0]{my} ? $_[0]{my}{user} : undef }
sub db_password { $_[0]{my} ? $_[0]{my}{password} : undef }
sub own_mariadb { $_[0]{my} && !$_[0]{my}{external} ? 1 : 0 }
sub mariadb_pid { $_[0]{my} ? $_[0]{my}{pid} : undef }

sub dbh {
	my ($self, $dbid) = @_;
	my $m = $self->_check_dbid($dbid);
	my $dbh = $self->{dbh}{$dbid};
	return $dbh if $dbh && eval { local $SIG{__DIE__}; $dbh->ping };
	$dbh = _connect(host => $m->{host}, port => $m->{port},
	    user => $m->{user}, password => $m->{password},
	    database => $self->db_name($dbid));
	$self->{dbh}{$dbid} = $dbh;
	return $dbh;
}

sub count {
	my ($self, $dbid, $where, @bind) = @_;
	my $sql = 'SELECT COUNT(*) FROM job';
	$sql .= " WHERE $where" if defined $where && $where ne '';
	my ($n) = $self->dbh($dbid)->selectrow_array($sql, undef, @bind);
	return $n;
}

# The original Garivini::Client::insert_job statement. arg is bound as a
# BLOB: DBD::MariaDB would otherwise send a Perl string as UTF-8 text and
# change every byte above 0x7f.
my $INSERT_JOB = 'INSERT IGNORE INTO job (funcname, run_after, uniqkey, '
    . 'coalesce, arg, flag) VALUES (?, ?, ?, ?, ?, ?)';

sub insert_job {
	my ($self, $dbid, %job) = @_;
	croak "insert_job: funcname is required" unless defined $job{funcname};
	my $sth = $self->dbh($dbid)->prepare($INSERT_JOB);
	$sth->bind_param(1, $job{funcname});
	$sth->bind_param(2, $job{run_after} // int(time));
	$sth->bind_param(3, $job{uniqkey});
	$sth->bind_param(4, $job{coalesce});
	$sth->bind_param(5, $job{arg}, DBI::SQL_BLOB());
	$sth->bind_param(6, $job{flag});
	my $n = $sth->execute;
	return 0 if $n == 0;
	return $self->dbh($dbid)->last_insert_id(undef, undef, 'job', 'jobid');
}

# --- gearmand --------------------------------------------------------------

sub _gearmand_init {
	my ($self, $n) = @_;
	return if $n == 0;
	if (defined $ENV{GV_TEST_GEARMAN} && $ENV{GV_TEST_GEARMAN} ne '') {
		my @given = split(/\s*,\s*/, $ENV{GV_TEST_GEARMAN});
		croak "this test needs $n gearmands, GV_TEST_GEARMAN gives "
		    . scalar(@given) if @given < $n;
		for my $i (1 .. $n) {
			my ($host, $port) = split(/:/, $given[$i - 1], 2);
			$port //= 4730;
			$self->{gearmand}[$i] = { external => 1, host => $host,
			    port => $port };
			_gearman_ready($host, $port, 5)
			    or die "GV_TEST_GEARMAN: no gearmand answers at "
			    . "$host:$port\n";
		}
		return;
	}
	for my $i (1 .. $n) {
		my $sfx = $i == 1 ? '' : "-$i";
		$self->{gearmand}[$i] = {
			external => 0, host => '127.0.0.1', port => _free_port(),
			log => "$self->{dir}/gearmand$sfx.log",
			pidfile => "$self->{dir}/gearmand$sfx.pid",
		};
		$self->start_gearmand($i);
	}
}

sub _gearmand {
	my ($self, $i) = @_;
	$i //= 1;
	my $g = $self->{gearmand}[$i]
	    or croak "no gearmand $i in this test (they are numbered from 1)";
	return $g;
}

sub gearmand_count { scalar(grep { defined } @{ $_[0]{gearmand} }) }
sub gearmand_port { $_[0]->_gearmand($_[1])->{port} }
sub gearmand_pid { $_[0]->_gearmand($_[1])->{pid} }
sub own_gearmand { $_[0]->_gearmand($_[1])->{external} ? 0 : 1 }

sub gearman_servers {
	my ($self) = @_;
	my @g = grep { defined } @{ $self->{gearmand} };
	return join(',', map { "$_->{host}:$_->{port}" } @g);
}

# Send one admin command; returns a reference to the reply lines (without
# line ends): one line, or for multi-line replies every line before the final
# ".". undef when the server does not answer in time.
sub _gearman_admin {
	my ($host, $port, $cmd, $timeout) = @_;
	$timeout //= 5;
	my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
	    Proto => 'tcp', Timeout => $timeout) or return undef;
	$s->autoflush(1);
	print {$s} "$cmd\r\n" or return undef;
	my $multi = $cmd =~ /^(status|workers|prioritystatus|show)\b/;
	my $sel = IO::Select->new($s);
	my $deadline = time + $timeout;
	my ($buf, @lines) = ('');
	while (1) {
		while ($buf =~ s/^([^\n]*)\n//) {
			(my $line = $1) =~ s/\r$//;
			return \@lines if $multi && $line eq '.';
			push @lines, $line;
			return \@lines unless $multi;
		}
		my $left = $deadline - time;
		return undef if $left <= 0 || !$sel->can_read($left);
		my $r = sysread($s, $buf, 65536, length $buf);
		return undef unless $r;
	}
}

sub _gearman_ready {
	my ($host, $port, $timeout) = @_;
	my $reply = _gearman_admin($host, $port, 'version', $timeout);
	return $reply && @$reply && $reply->[0] =~ /^OK\b/;
}

sub gearman_admin {
	my ($self, $i, $cmd) = @_;
	my $g = $self->_gearmand($i);
	my $reply = _gearman_admin($g->{host}, $g->{port}, $cmd) // [];
	return wantarray ? @$reply : $reply->[0];
}

sub gearman_status {
	my ($self, $i) = @_;
	my $g = $self->_gearmand($i);
	return gearman_status_at($g->{host}, $g->{port})
	    // croak "gearman_status: no answer from $g->{host}:$g->{port}";
}

# gearman_status of any gearmand, or undef when it does not answer. A
# function.
sub gearman_status_at {
	my ($host, $port) = @_;
	my $reply = _gearman_admin($host, $port, 'status') or return undef;
	my %st;
	for (@$reply) {
		my ($func, $total, $running, $workers) = split /\t/;
		next unless defined $workers;
		$st{$func} = { total => $total + 0, running => $running + 0,
		    workers => $workers + 0 };
	}
	return \%st;
}

# The gearmand command line of a test server: on 127.0.0.1:$o{port}, its log
# and pidfile, then @{ $o{args} }. A function, for bench.pl's own gearmands.
sub gearmand_command {
	my (%o) = @_;
	# --config-file: never pick up /etc/gearmand.conf (it could say
	# --daemon). --pid-file: the default is in /var.
	return (_find_program('gearmand'), '--listen=127.0.0.1',
	    "--port=$o{port}", "--log-file=$o{log}", '--verbose=WARNING',
	    "--pid-file=$o{pidfile}", '--config-file=/dev/null',
	    @{ $o{args} // [] });
}

sub start_gearmand {
	my ($self, $i) = @_;
	$i //= 1;
	my $g = $self->_gearmand($i);
	croak "start_gearmand: gearmand $i is external (GV_TEST_GEARMAN)"
	    if $g->{external};
	croak "start_gearmand: gearmand $i already running" if $g->{pid};
	my @cmd = gearmand_command(port => $g->{port}, log => $g->{log},
	    pidfile => $g->{pidfile});
	my $out = "$g->{log}.out";
	my $pid = _fork_exec(cmd => \@cmd, stdout => $out, stderr => $out);
	$g->{pid} = $pid;
	my $deadline = time + $GEARMAND_START_SECONDS;
	while (1) {
		if (waitpid($pid, WNOHANG) == $pid) {
			my $code = _decode_status($?);
			delete $g->{pid};
			die "gearmand $i exited with $code while starting\n"
			    . _tail($g->{log}) . _tail($out, 10);
		}
		return 1 if _gearman_ready($g->{host}, $g->{port}, 1);
		if (time >= $deadline) {
			die "gearmand $i did not answer within "
			    . "$GEARMAND_START_SECONDS s\n" . _tail($g->{log})
			    . _tail($out, 10);
		}
		sleep $POLL_SECONDS;
	}
}

sub stop_gearmand {
	my ($self, $i, $signal) = @_;
	$i //= 1;
	$signal //= 'TERM';
	my $g = $self->_gearmand($i);
	croak "stop_gearmand: gearmand $i is external (GV_TEST_GEARMAN)"
	    if $g->{external};
	my $pid = delete $g->{pid} or croak "stop_gearmand: $i not running";
	kill(_signum($signal), $pid);
	my $status = _wait_pid($pid, 10);
	unless (defined $status) {
		kill('KILL', $pid);
		$status = _wait_pid($pid, 10);
		croak "stop_gearmand: gearmand $i survived SIGKILL"
		    unless defined $status;
	}
	return _decode_status($status);
}

# --- garivini.ini ----------------------------------------------------------

sub ini_sections {
	my ($self) = @_;
	my $dir = $self->{dir};
	my @s = ([garivini => [
		gearman_servers => $self->gearman_servers,
		pidfile => "$dir/garivini.pid",
		status_file => "$dir/status.json",
		log_file => "$dir/garivini.log",
		log_level => 'info',
	]]);
	my $m = $self->{my};
	for my $dbid (1 .. $self->{ndbs}) {
		push @s, ["db.$dbid" => [
			host => $m->{host}, port => $m->{port},
			database => $self->db_name($dbid),
			user => $m->{user}, password => $m->{password},
		]];
	}
	push @s, [queue_runner => [processes => 1, batch_run_sleep => 0.05,
	    lease_seconds => 30]];
	push @s, [injector => [processes => 1]];
	push @s, [controller => [processes => 1]];
	return \@s;
}

# Apply overrides to a list of [section => [key => value, ...]] in place.
# "section.key" (split at the last dot, so "db.1.port" works) sets or adds;
# undef removes the key, or the whole section when the name is a section.
sub _ini_apply {
	my ($sections, %over) = @_;
	for my $name (sort keys %over) {
		my $value = $over{$name};
		my ($si) = grep { $sections->[$_][0] eq $name } 0 .. $#$sections;
		if (defined $si && !defined $value) {
			splice(@$sections, $si, 1);
			next;
		}
		my ($sec, $key) = $name =~ /^(.+)\.([^.]+)$/
		    or croak "write_ini: '$name' is not section.key";
		($si) = grep { $sections->[$_][0] eq $sec } 0 .. $#$sections;
		unless (defined $si) {
			next unless defined $value;
			push @$sections, [$sec => []];
			$si = $#$sections;
		}
		my $kv = $sections->[$si][1];
		my ($ki) = grep { $_ % 2 == 0 && $kv->[$_] eq $key } 0 .. $#$kv;
		if (!defined $value) {
			splice(@$kv, $ki, 2) if defined $ki;
		} elsif (defined $ki) {
			$kv->[$ki + 1] = $value;
		} else {
			push @$kv, $key, $value;
		}
	}
	return $sections;
}

sub _ini_text {
	my ($sections) = @_;
	my $text = '';
	for my $s (@$sections) {
		my ($name, $kv) = @$s;
		$text .= "\n" if $text ne '';
		$text .= "[$name]\n";
		for (my $j = 0; $j < @$kv; $j += 2) {
			$text .= "$kv->[$j] = $kv->[$j + 1]\n";
		}
	}
	return $text;
}

sub write_ini {
	my ($self, %over) = @_;
	my $file = delete $over{file} // 'garivini.ini';
	my $path = $file =~ m{^/} ? $file : "$self->{dir}/$file";
	my $text = _ini_text(_ini_apply($self->ini_sections, %over));
	# Renamed into place: a master re-reading it on HUP never sees half.
	_write_file("$path.tmp", $text);
	rename("$path.tmp", $path) or croak "rename $path: $!";
	return $path;
}

# The settings that tie an INI to this test's servers and directory, as
# 'section.key' => value (undef: comment the key out). Database sections are
# matched by position: the k-th [db.*] of the file gets database k.
sub _localize_values {
	my ($self, $dbsections) = @_;
	my %v;
	my $def = $self->ini_sections;
	my ($garivini) = map { $_->[1] } grep { $_->[0] eq 'garivini' } @$def;
	my %g = @$garivini;
	$v{"garivini.$_"} = $g{$_}
	    for qw(gearman_servers pidfile status_file log_file);
	$v{'garivini.prometheus_file'} = "$self->{dir}/garivini.prom";
	# Switching users would lock the master out of DIR.
	$v{'garivini.user'} = undef;
	$v{'garivini.group'} = undef;
	my $k = 0;
	for my $sec (@$dbsections) {
		$k++;
		croak "localize_ini: the file has more [db.N] sections than "
		    . "this test has databases ($self->{ndbs})"
		    if $k > $self->{ndbs};
		my ($kv) = map { $_->[1] } grep { $_->[0] eq "db.$k" } @$def;
		my %d = @$kv;
		$v{"$sec.$_"} = $d{$_} for keys %d;
		$v{"$sec.socket"} = undef;
	}
	return \%v;
}

sub localize_ini {
	my ($self, $src, %over) = @_;
	my $file = delete $over{file} // basename($src);
	my $path = $file =~ m{^/} ? $file : "$self->{dir}/$file";
	open(my $fh, '<', $src) or croak "localize_ini: $src: $!";
	my @lines = <$fh>;
	close $fh;

	my @dbsections = grep { defined }
	    map { /^\[(db\.\d+)\]\s*$/ ? $1 : undef } @lines;
	my %want = (%{ $self->_localize_values(\@dbsections) }, %over);
	# Keys to add where the file lacks them; prometheus_file only
	# replaces a path the file sets.
	my %add = map { $_ => 1 } grep { defined $want{$_}
	    && $_ ne 'garivini.prometheus_file' } keys %want;

	my ($sec, $skipping, @out) = ('');
	my $flush = sub {
		for my $name (sort grep { /^\Q$sec\E\.[^.]+$/ } keys %add) {
			my ($key) = $name =~ /\.([^.]+)$/;
			push @out, "$key = $want{$name}\n";
			delete $add{$name};
		}
	};
	for my $line (@lines) {
		# An indented line continues the value of the key above it.
		if ($skipping && $line =~ /^[ \t]+\S/) {
			next;
		}
		$skipping = 0;
		if ($line =~ /^\[([^\]]+)\]\s*$/) {
			my $next = $1;
			$flush->();
			$sec = $next;
		} elsif ($line =~ /^([A-Za-z_][A-Za-z0-9_]*)\s*[=:]/
		    && exists $want{"$sec.$1"}) {
			my $name = "$sec.$1";
			$skipping = 1;
			delete $add{$name};
			if (defined $want{$name}) {
				push @out, "$1 = $want{$name}\n";
			} else {
				push @out, "; (GvTest) $line";
			}
			next;
		}
		push @out, $line;
	}
	$flush->();
	# Sections the file does not have at all.
	my %new;
	for my $name (sort keys %add) {
		my ($s, $key) = $name =~ /^(.+)\.([^.]+)$/;
		push @{ $new{$s} }, "$key = $want{$name}\n";
	}
	push @out, "\n[$_]\n", @{ $new{$_} } for sort keys %new;

	_write_file("$path.tmp", join('', @out));
	rename("$path.tmp", $path) or croak "rename $path: $!";
	return $path;
}

sub status_json {
	my ($self, $path) = @_;
	$path //= $self->status_path;
	my $text = _read_file($path);
	return undef if $text eq '';
	require JSON;
	return eval { JSON::decode_json($text) };
}

# Wait until the master's status file, written after this call, shows
# every pool with its configured children running; with settled => 1, also
# none of them starting or stopping (after a reload, the replaced children
# have gone and their successors are at work). True once so, false after
# $timeout seconds.
sub wait_pools {
	my ($self, %o) = @_;
	my $what = $o{settled} ? 'the pools to settle' : 'every pool to be full';
	my $path = $o{status} // $self->status_path;
	my $since = time;
	return $self->wait_for($what, $o{timeout} // 40, sub {
		# A file written before the call may show children that a
		# reload since then is replacing.
		my $mtime = (Time::HiRes::stat($path))[9] // 0;
		return 0 if $mtime < $since;
		my $st = $self->status_json($path) or return 0;
		for my $p (values %{ $st->{pools} }) {
			return 0 if $p->{running} < $p->{configured};
		}
		return 1 unless $o{settled};
		return !grep { $_->{state} =~ /^(starting|stopping)$/ }
		    @{ $st->{children} };
	});
}

# --- teardown --------------------------------------------------------------

sub _kill_group_wait {
	my ($self, $pid) = @_;
	my $p = $self->{procs}{$pid};
	# The leader may have exited already while its children live on in
	# its process group: signal the group either way.
	kill('TERM', -$pid);
	kill('TERM', $pid) unless $p && defined $p->{status};
	my $deadline = time + $TEARDOWN_GRACE_SECONDS;
	while (time < $deadline) {
		if ($p && !defined $p->{status}) {
			$p->{status} = $? if waitpid($pid, WNOHANG) == $pid;
		}
		my $leader_gone = $p ? defined $p->{status} : !kill(0, $pid);
		return if $leader_gone && !kill(0, -$pid);
		sleep $POLL_SECONDS;
	}
	Test::More::diag("teardown: pid $pid did not stop within "
	    . "$TEARDOWN_GRACE_SECONDS s after SIGTERM; sending SIGKILL");
	kill('KILL', -$pid);
	kill('KILL', $pid);
	waitpid($pid, 0) if $p && !defined $p->{status};
}

# A master started with -d is not our child: find it through its pidfile,
# but only if the pid still belongs to a garivini.
sub _daemon_pid {
	my ($self) = @_;
	open(my $fh, '<', $self->pid_path) or return;
	my ($pid) = <$fh> =~ /(\d+)/;
	close $fh;
	return unless $pid && $pid != $$;
	open(my $cl, '<', "/proc/$pid/cmdline") or return;
	my $cmd = <$cl> // '';
	close $cl;
	return $cmd =~ /garivini/ ? $pid : undef;
}

sub _step {
	my ($what, $code) = @_;
	local $@;
	eval { local $SIG{__DIE__}; $code->(); 1 }
	    or Test::More::diag("teardown: $what: $@");
}

sub teardown {
	my ($self) = @_;
	return if $self->{torn_down} || $$ != $self->{owner};
	$self->{torn_down} = 1;
	delete $LIVE{refaddr($self)};
	local $?;

	my $passing = eval { Test::More->builder->is_passing } // 1;
	for my $pid (sort { $a <=> $b } keys %{ $self->{procs} },
	    keys %{ $self->{tracked} }, $self->_daemon_pid // ()) {
		_step("stopping $pid", sub { $self->_kill_group_wait($pid) });
	}
	unless ($passing) {
		for my $f ($self->log_path, grep { defined } map { $_->{out} }
		    values %{ $self->{procs} }) {
			Test::More::diag(_tail($f, 20)) if -s $f;
		}
	}
	for my $g (grep { defined && $_->{pid} } @{ $self->{gearmand} }) {
		_step("stopping gearmand", sub {
			my $pid = delete $g->{pid};
			kill('TERM', $pid);
			unless (defined _wait_pid($pid,
			    $TEARDOWN_GRACE_SECONDS)) {
				kill('KILL', $pid);
				waitpid($pid, 0);
			}
		});
	}
	if (my $m = $self->{my}) {
		_step("dropping test databases", sub { $self->_mariadb_drop_dbs })
		    if $m->{external};
		$self->_forget_dbhs;
		if ($m->{pid}) {
			_step("stopping mariadbd", sub {
				my $pid = delete $m->{pid};
				kill('TERM', $pid);
				unless (defined _wait_pid($pid,
				    $TEARDOWN_GRACE_SECONDS)) {
					kill('KILL', $pid);
					waitpid($pid, 0);
				}
			});
		}
	}
	if ($self->{keep}) {
		Test::More::diag("GV_TEST_KEEP=1: kept $self->{dir}");
	} else {
		_step("removing $self->{dir}",
		    sub { remove_tree($self->{dir}) });
	}
}

sub DESTROY {
	my ($self) = @_;
	$self->teardown;
}

sub _teardown_all {
	for my $self (grep { defined } values %LIVE) {
		$self->teardown;
	}
}

# A signal that would kill the test outright skips END: turn it into an exit
# so teardown runs. Only where the test has not set a handler of its own.
my $HANDLERS_SET;

sub _install_signal_handlers {
	return if $HANDLERS_SET++;
	for my $sig (qw(INT TERM HUP)) {
		next if defined $SIG{$sig} && $SIG{$sig} ne 'DEFAULT'
		    && $SIG{$sig} ne '';
		my $n = _signum($sig);
		$SIG{$sig} = sub { exit(128 + $n) };
	}
	# A peer closing an admin socket must fail a write, not kill us.
	$SIG{PIPE} = 'IGNORE'
	    if !defined $SIG{PIPE} || $SIG{PIPE} eq '' || $SIG{PIPE} eq 'DEFAULT';
}

END {
	_teardown_all();
}

1;

__END__

=head1 NAME

GvTest - real-server test harness for Garivini

=head1 SYNOPSIS

    use Test::More;
    use GvTest;

    my $t = GvTest->new(dbs => 2, gearmands => 1);
    my $ini = $t->write_ini('queue_runner.lease_seconds' => 5);
    my $pid = $t->spawn($t->build_path('garivini'), '-c', $ini);
    $t->wait_for('the job to run', 10, sub { $t->count(1) == 0 });
    is($t->stop($pid, 'TERM', 15), 0, 'graceful stop');
    done_testing;

Run from the repository root with C<prove -I tests/lib tests/t>.

=head1 ENVIRONMENT

=over

=item GV_BUILD

Absolute path of the build directory holding the programs (default
F<build> in the repository).

=item GV_TEST_KEEP=1

Keep the temporary directory (servers' data and logs, the INI, every
spawned program's output) and print its path.

=item GV_TEST_MYSQL=host:port:user:password

Use a running MariaDB/MySQL instead of a private one. The test databases are
named C<gvtest_PID_N>, created (dropped first if they exist) and dropped at
the end; the INI uses these credentials. C<stop_mariadb> and
C<start_mariadb> die in this mode (see C<own_mariadb>).

=item GV_TEST_GEARMAN=host:port[,host:port...]

Use running gearmands instead of private ones (at least as many as the
test asks for). C<stop_gearmand> and C<start_gearmand> die in this mode.

=back

When a server cannot start, C<new> dies with the tail of its log: the test
fails, it never skips.

=head1 METHODS

Databases (C<$dbid>) and gearmands (C<$i>) are numbered from 1; C<$i>
defaults to 1.

=over

=item GvTest->new(dbs => 2, gearmands => 1, name => NAME)

Makes the temporary directory and starts a private MariaDB holding C<dbs>
databases (C<gv1>, C<gv2>, ... each loaded with F<schema.sql>, all
privileges for user C<garivini> password C<garivini> from 127.0.0.1 and
localhost) and C<gearmands> private gearmands, all on free loopback ports.
C<dbs =E<gt> 0> starts no MariaDB, C<gearmands =E<gt> 0> no gearmand.
Everything is torn down when the object is destroyed or the program ends,
also when the test dies or gets SIGINT, SIGTERM or SIGHUP. C<name> (default:
the test file's name) goes into the directory's name.

=item $t->dir

The temporary directory.

=item $t->build_path($name)

C<"$GV_BUILD/$name">; dies unless it is an executable file.

=item GvTest::build_dir(), $t->repo_dir, $t->schema_path

The build directory, the repository root, F<schema.sql>.

=item $t->ini_path, $t->log_path, $t->status_path, $t->pid_path

The paths C<write_ini> puts in the INI: F<DIR/garivini.ini>,
F<DIR/garivini.log>, F<DIR/status.json>, F<DIR/garivini.pid>.

=item $t->dbh($dbid)

A DBI handle (DBD::MariaDB, else DBD::mysql) to database C<$dbid> over TCP
as the user the INI uses, with RaiseError and AutoCommit. Cached; reconnects
when the cached one no longer pings (after C<stop_mariadb>).

=item $t->db_name($dbid), $t->db_count

The name of database C<$dbid>; how many there are.

=item $t->db_host, $t->db_port, $t->db_socket, $t->db_user, $t->db_password

Where and how to reach the MariaDB (C<db_socket> is undef with
GV_TEST_MYSQL).

=item $t->own_mariadb, $t->mariadb_pid

True when the MariaDB is the private one (so it can be stopped); its pid
while running.

=item GvTest::process_title($pid)

The command line C<ps> shows for C<$pid> (C<ps -o args=>), trailing blanks
cut; empty once the process is gone.

=item $t->wait_pools(timeout => 40, settled => 0, status => PATH)

Waits until the master's status file (default C<status_path>), written
after the call (so a master with a long C<status_interval> makes it wait),
shows every pool with at least its configured children running; with C<settled>, also
no child starting or stopping, as after a reload once the replaced children
are gone. True, or false (a failed test) after C<timeout> seconds.

=item $t->count($dbid, $where, @bind)

C<SELECT COUNT(*) FROM job> in database C<$dbid>, with C<WHERE $where> when
C<$where> is given, placeholders bound to C<@bind>.

=item $t->insert_job($dbid, funcname => F, arg => BYTES, run_after => T, uniqkey => U, coalesce => C, flag => X)

Inserts a row with the original Perl C<Garivini::Client> statement
(C<INSERT IGNORE INTO job (funcname, run_after, uniqkey, coalesce, arg,
flag) VALUES (?, ?, ?, ?, ?, ?)>); only C<funcname> is required, C<run_after>
defaults to now, the others to NULL. C<arg> is bound as a BLOB so its bytes
arrive unchanged (DBD::MariaDB sends a plain Perl string as UTF-8 text).
Returns the new jobid, or 0 when C<INSERT IGNORE> ignored a duplicate.

=item $t->inject_job(funcname => F, arg => A, ...)

One C<inject_jobs> call with Perl's C<Gearman::Client> on
C<gearman_servers> (one client per object), the job document being the
JSON of the arguments (C<funcname>, C<arg>, C<uniqkey>, C<delay>,
C<priority>, ...), as a user of the original sends it. Returns the decoded
reply, C<{ jobid =E<gt> J, dbid =E<gt> D }>; dies when the call fails or
times out (30 s). A test that looks at failures and warnings calls
C<gearman_call>.

=item $t->gearman_call($func, $payload, timeout => 30)

One call of gearmand function C<$func> (C<inject_jobs>, say) with
C<$payload> sent as its bytes (JSON or not), on the client C<inject_job>
uses, waiting at most C<timeout> seconds. Returns C<($reply, $failed,
$warning)>: the reply's bytes, or undef when the call failed or did not
finish in time; whether it failed (WORK_FAIL); and the messages of its
WORK_WARNING packets run together, '' when there were none. Garivini
refuses a call with a warning that says why, then a failure, so a refused
call gives C<(undef, 1, $why)>.

=item $t->gv_inject($ini, func => F, n => N, mode => M, arg => A, priority => P, args => [...])

Runs C<gv_inject -c $ini> with C<-m M>, C<-f F>, C<-n N>, C<-p P> and
C<-a A> for the keys given (only C<func> is required; the mode defaults to
gv_inject's, throughput), then the extra arguments of C<args>. Returns
C<($exit_code, $stdout, $stderr)> as C<run> does.

=item $t->gv_inject_ok($ini, $test_name, %args)

C<gv_inject($ini, %args)> as a test: passes when it exits 0, else prints
its stderr. Returns whether it passed.

=item $t->gvctl($ini, @args)

Runs C<gvctl -c $ini @args>; returns C<($exit_code, $stdout, $stderr)> as
C<run> does.

=item $t->gvctl_json($ini, @args)

C<gvctl -c $ini --json @args> as a test: passes when it prints JSON.
Returns C<($exit_code, $document, $stderr)>, the document decoded (undef
when it is not JSON).

=item $t->stop_mariadb($signal)

Sends C<$signal> (default TERM; name or number) to the private mariadbd and
waits for it to exit (60 s, then KILL). Cached handles are dropped. Returns
its exit code (128 + signal when killed).

=item $t->start_mariadb

Starts it again on the same data directory and port and waits until it
answers (60 s; after a KILL this includes InnoDB crash recovery). Dies with
the tail of F<DIR/mysql.err> if it does not come up.

=item $t->gearman_servers

C<"127.0.0.1:PORT"> for each gearmand, joined by commas: the value of
C<gearman_servers> in the INI.

=item $t->gearmand_port($i), $t->gearmand_pid($i), $t->gearmand_count, $t->own_gearmand($i)

The port and pid of gearmand C<$i>; how many there are; whether C<$i> is a
private one.

=item $t->gearman_status($i)

C<{ funcname =E<gt> { total =E<gt> N, running =E<gt> N, workers =E<gt> N } }>
from the admin C<status> command of gearmand C<$i> (waiting = total -
running). Dies if the server does not answer.

=item $t->gearman_admin($i, $command)

Any admin command (C<version>, C<workers>, C<maxqueue FUNC N>, ...): the
reply lines in list context (multi-line replies without the final C<.>), the
first line in scalar context; empty/undef when there is no answer.

=item $t->stop_gearmand($i, $signal)

Sends C<$signal> (default TERM) to gearmand C<$i> and waits for it (10 s,
then KILL). Returns its exit code. Jobs it held are lost (no persistent
queue), as in production.

=item $t->start_gearmand($i)

Starts gearmand C<$i> again on the same port and waits until it answers the
admin C<version> command.

=item $t->write_ini(%overrides)

Writes F<DIR/garivini.ini> and returns its path. Defaults:

    [garivini]  gearman_servers (all private gearmands), pidfile, status_file,
                log_file (in DIR), log_level = info
    [db.N]      host, port, database, user, password (one per database)
    [queue_runner] processes = 1, batch_run_sleep = 0.05, lease_seconds = 30
    [injector]  processes = 1
    [controller] processes = 1

Overrides are C<'section.key' =E<gt> value> (split at the last dot, so
C<'db.1.port'> works); a new key or section is appended; C<undef> removes the
key, or a whole section when the name is a section (C<'db.2' =E<gt> undef>).
The special key C<file> writes another file in DIR (or an absolute path)
instead. The file is written to a temporary name and renamed, so it can be
rewritten under a running master before a HUP.

=item $t->localize_ini($src, %overrides)

Copies an existing INI (such as the sample F<garivini.ini>) into DIR (same
base name; C<file =E<gt> NAME> for another), keeping its comments and every
other setting, with what ties it to a machine pointed at this test:
C<gearman_servers>, C<pidfile>, C<status_file>, C<log_file> (and
C<prometheus_file> if set) in C<[garivini]>, C<user> and C<group> commented
out, and the k-th C<[db.N]> section (its N kept) given host, port, database,
user and password of database k, its C<socket> commented out. Missing keys
are added. C<%overrides> as for C<write_ini> (C<undef> comments a key out).
Dies when the file has more C<[db.N]> sections than the test has
databases. Returns the path.

=item $t->ini_sections

The default INI as C<[ [section =E<gt> [key =E<gt> value, ...]], ... ]>.

=item $t->spawn(@cmd), $t->spawn(\%opt, @cmd)

Runs a program in the background, in its own process group, stdin from
F</dev/null>, stdout and stderr appended to one file in DIR. Returns its
pid, which teardown stops (TERM to its process group, 5 s, then KILL).
C<%opt>: C<env> (hash; undef values delete), C<stdin> (a file), C<chdir>,
C<name> (for the output file), C<inherit> (true: keep our stdout and stderr,
no output file).

=item $t->spawn_out($pid)

The path of the output file of a spawned pid.

=item $t->running($pid)

True while the process runs (reaps it if it is our child and has exited).

=item $t->wait_exit($pid, $timeout)

Waits up to C<$timeout> s (default 10) without signalling. Returns the exit
code (128 + signal number when killed by a signal), or undef on timeout.
For a pid that is not our child (a daemonized master) it returns 0 once the
process is gone.

=item $t->stop($pid, $signal, $timeout)

Sends C<$signal> (default TERM; name like C<'HUP'> or number) to the pid
only (not its group) and then C<wait_exit($pid, $timeout)>, default 10 s.
Returns the exit code, or undef if it still runs (teardown kills it).

=item $t->track($pid)

Also stop this pid (and its process group) at teardown. A master started
with C<-d> whose pidfile is F<DIR/garivini.pid> is stopped even untracked.

=item $t->run(@cmd), $t->run(\%opt, @cmd)

Runs a program to completion, returns C<($exit_code, $stdout, $stderr)>; the
exit code is 128 + signal when killed. C<%opt>: C<stdin> (a string; default
F</dev/null>), C<env>, C<chdir>, C<timeout> (default 60 s; on timeout the
process group is killed, a diag printed and the code is undef).

=item $t->wait_for($what, $timeout, sub { ... })

Calls the sub every 50 ms until it returns true (returns 1) or C<$timeout>
seconds pass: then calls C<Test::More::fail("timed out after N s waiting
for $what")> and returns 0.

=item $t->wait_for_log($regex, $timeout, $file)

C<wait_for> a line matching C<$regex> in C<$file> (default the garivini
log). Returns the line, or undef after failing.

=item $t->consume_runs($file)

The jobs C<gv_consume -o $file> started, in the order it wrote them:
C<[ { dbid, jobid, attempt, failcount, arg }, ... ]>, C<arg> decoded from
gv_consume's C<\xHH> escapes back to its bytes. A line not yet whole is left
out; a missing file gives C<[]>. Needs no object: C<GvTest-E<gt>consume_runs>
works too.

=item $t->status_json($path)

The decoded status file (default F<DIR/status.json>), undef if it is
missing, empty or not valid JSON.

=item $t->teardown

Stops everything now (spawned and tracked processes, gearmands, MariaDB),
drops external test databases, removes DIR unless GV_TEST_KEEP=1. When the
test has failed, the tail of the garivini log and of each spawned program's
output is printed first. Called automatically; safe to call twice.

=back

=head1 FUNCTIONS

For harnesses of their own built on GvTest (F<tests/cluster/lib/GvGalera.pm>,
F<bench/bench.pl>), so that every server starts the same way. They are not
methods: call them as C<GvTest::name(...)>.

=over

=item mariadb_install_datadir(datadir => D, user => U, log => L, innodb => [...])

Runs C<mariadb-install-db> for a data directory owned by OS user C<U>, its
output in C<L>; tries a second time on a clean directory, then dies with the
errors of the log. C<innodb>: the InnoDB size options the server will run
with, so the redo log is created at its final size (default GvTest's 256 MB
buffer pool and redo log).

=item mariadb_server_command(datadir => D, socket => S, port => P, pidfile => F, errlog => E, user => U, max_connections => N, innodb => [...], args => [...])

The C<mariadbd> command line of a test server, as GvTest runs its own:
C<--no-defaults>, loopback only, Debian's character set, no binary log nor
performance schema, C<max_connections> (default 300), then C<args> (Galera's
C<--wsrep-*> options, for instance).

=item gearmand_command(port => P, log => L, pidfile => F, args => [...])

The C<gearmand> command line of a test server on 127.0.0.1:P, then C<args>.

=item gearman_status_at($host, $port)

C<gearman_status> of any gearmand; undef when it does not answer.

=back

=cut
