#!/bin/bash
#
# run.sh BUILD_DIR: what `make run` calls.
#
# With CONFIG set, runs BUILD_DIR/garivini -c $CONFIG in the foreground and
# nothing else. Otherwise starts a private MariaDB and gearmand in a
# temporary directory (the test harness, tests/lib/GvTest.pm, does it exactly
# as the tests do), copies the sample garivini.ini there with its ports and
# paths pointed at them, and runs Garivini on it in the foreground. Ctrl-C or
# TERM stops Garivini gracefully (a second one: immediately), then the
# servers; GV_TEST_KEEP=1 keeps the directory.

set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: scripts/run.sh BUILD_DIR" >&2
	exit 64
fi

repo=$(cd "$(dirname "$0")/.." && pwd)
if ! build=$(cd "$1" 2>/dev/null && pwd); then
	echo "run.sh: no build directory $1: run make first" >&2
	exit 1
fi
garivini=$build/garivini
if [ ! -x "$garivini" ]; then
	echo "run.sh: $garivini does not exist yet: run make first" >&2
	exit 1
fi

if [ -n "${CONFIG:-}" ]; then
	exec "$garivini" -c "$CONFIG"
fi

sample=$repo/garivini.ini
if [ ! -f "$sample" ]; then
	echo "run.sh: the sample configuration $sample is missing" >&2
	exit 1
fi

# The program comes on stdin; Garivini's stdin is /dev/null anyway.
exec perl -I "$repo/tests/lib" - "$build" "$sample" <<'PERL'
use strict;
use warnings;
use GvTest;

my ($build, $sample) = @ARGV;
open(my $fh, "<", $sample) or die "$sample: $!\n";
my @lines = <$fh>;
close $fh;
my $ndbs = grep { /^\[db\.\d+\]\s*$/ } @lines
    or die "run.sh: $sample has no [db.N] section\n";
my ($log_file) = map { /^log_file\s*=\s*(\S+)/ ? $1 : () } @lines;

print "make run: starting a private MariaDB and gearmand...\n";
my $t = GvTest->new(dbs => $ndbs, gearmands => 1, name => "run");
# Logging to the terminal is what a foreground run wants; a path or syslog
# goes to a file in the directory instead.
my %over;
$over{"garivini.log_file"} = "stderr"
    if defined $log_file && $log_file eq "stderr";
my $ini = $t->localize_ini($sample, %over);
# It holds the database's password: only its owner reads it, as the master
# asks of any INI that does.
chmod(0600, $ini) or die "chmod $ini: $!";
my $log = $over{"garivini.log_file"} ? "this terminal (log_file = stderr)"
    : $t->log_path;
my $gport = $t->gearmand_port(1);
my $dbs = join(", ", map { $t->db_name($_) } 1 .. $ndbs);
my $dir = $t->dir;
my $keep = ($ENV{GV_TEST_KEEP} // "") eq "1" ? "kept on exit"
    : "removed on exit; GV_TEST_KEEP=1 keeps it";

print <<"EOT";

Garivini with private servers; everything is in $dir ($keep)
  config:      $ini
               (the sample $sample, ports and paths rewritten)
  log:         $log
  status file: ${\ $t->status_path}
  pid file:    ${\ $t->pid_path}
  MariaDB:     127.0.0.1:${\ $t->db_port}, user garivini, password garivini, databases $dbs
               mariadb -h 127.0.0.1 -P ${\ $t->db_port} -u garivini -pgarivini ${\ $t->db_name(1)}
  gearmand:    127.0.0.1:$gport

From another terminal:
  inject a job:  $build/gv_inject -c $ini -f hello -a world
     or, low latency through Gearman:
                 gearman -h 127.0.0.1 -p $gport -f inject_jobs '{"funcname":"hello","arg":"world"}'
  work it:       $build/gv_consume -c $ini -f hello
  look:          $build/gvctl -c $ini stats      $build/gvctl -c $ini status

Ctrl-C stops Garivini (a second Ctrl-C: at once), then the servers.

EOT

my $pid = $t->spawn({ inherit => 1, name => "garivini" }, "$build/garivini",
    "-c", $ini);
my $signals = 0;
my $forward = sub {
	my ($sig) = @_;
	my $send = (qw(TERM QUIT KILL))[$signals < 2 ? $signals : 2];
	$signals++;
	print STDERR "\nmake run: SIG$sig: sending SIG$send to garivini "
	    . "(pid $pid)\n";
	kill($send, $pid);
	kill("KILL", -$pid) if $send eq "KILL";
};
$SIG{$_} = $forward for qw(INT TERM HUP);

my $code;
$code = $t->wait_exit($pid, 3600) until defined $code;
print STDERR "make run: garivini exited with code $code; stopping the "
    . "servers\n";
$t->teardown;
exit($code);
PERL
