#!/usr/bin/perl
# load.pl: feeds one fault scenario with jobs until a stop file appears, and
# records every job it got an acknowledgement for.
#
#   load.pl --mode throughput|latency --ini INI --func F --prefix P
#           --acks FILE --stop FILE [--per-round N] [--batch B] [--pause S]
#           [--max-rounds R] [--gv-inject PATH] [--servers h:p,...]
#
# Every job's arg is "P-ROUND-N", unique in the scenario. An acknowledged
# job is one line "ARG" appended to the acks file:
#   throughput: gv_inject (gv_insert_jobs in batches of B) exited 0, or the
#               job lies before the batch it names in "jobs A..B: error"
#               (gv_inject stops at the first batch it could not store);
#   latency:    inject_jobs answered with a jobid (Perl Gearman::Client).
# Jobs that were refused may still have been stored (an answer lost after
# the commit): they may run, they are simply not promised.
#
# The environment is passed on to gv_inject, so GV_FAULT_DB reaches it.
use strict;
use warnings;
use Getopt::Long;
use IO::Handle;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep time);

my %o = (mode => 'throughput', 'per-round' => 100, batch => 25,
    pause => 0.1, 'max-rounds' => 0);
GetOptions(\%o, 'mode=s', 'ini=s', 'func=s', 'prefix=s', 'acks=s', 'stop=s',
    'per-round=i', 'batch=i', 'pause=f', 'max-rounds=i', 'gv-inject=s',
    'servers=s') or die "load.pl: bad options\n";
for (qw(ini func prefix acks stop)) {
	die "load.pl: --$_ is required\n" unless defined $o{$_};
}

open(my $acks, '>>', $o{acks}) or die "$o{acks}: $!\n";
$acks->autoflush(1);
$| = 1;

my ($acked, $refused) = (0, 0);

# One round through gv_inject; returns the number of jobs acknowledged.
sub round_throughput {
	my ($round) = @_;
	my $n = $o{'per-round'};
	my $err = "$o{acks}.stderr";
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open(STDOUT, '>', '/dev/null');
		open(STDERR, '>', $err) or POSIX::_exit(127);
		exec($o{'gv-inject'}, '-c', $o{ini}, '-f', $o{func}, '-n', $n,
		    '-b', $o{batch}, '-a', "$o{prefix}-$round-{n}")
		    or POSIX::_exit(127);
	}
	waitpid($pid, 0);
	my $code = $? >> 8;
	my $ok = 0;
	if ($? == 0) {
		$ok = $n;
	} else {
		open(my $fh, '<', $err) or die "$err: $!";
		my $text = join('', <$fh>);
		close $fh;
		# gv_inject stops at the first batch it could not store: the
		# ones before it are stored and committed.
		if ($code == 1 && $text =~ /^gv_inject: jobs (\d+)\.\.\d+: /m) {
			$ok = $1;
		}
		print STDERR "round $round: gv_inject exit $code, "
		    . "$ok acknowledged: $text";
	}
	print {$acks} join('', map { "$o{prefix}-$round-$_\n" } 0 .. $ok - 1)
	    if $ok;
	return ($ok, $n - $ok);
}

my $client;
sub round_latency {
	my ($round) = @_;
	require Gearman::Client;
	$client //= Gearman::Client->new(
	    job_servers => [split /,/, $o{servers}]);
	my @ok;
	# Gearman::Client dies when gearmand goes away under it: the round
	# ends there, and a new client connects for the next one.
	eval {
		my $ts = $client->new_task_set;
		for my $k (0 .. $o{'per-round'} - 1) {
			my $arg = "$o{prefix}-$round-$k";
			my $payload = encode_json({ funcname => $o{func},
			    arg => $arg });
			$ts->add_task('inject_jobs', $payload, {
				on_complete => sub {
					my $r = eval { decode_json(${ $_[0] }) };
					push @ok, $arg if $r && $r->{jobid};
				},
				timeout => 20,
			});
		}
		$ts->wait(timeout => 30);
		1;
	} or do {
		print STDERR "round $round: $@";
		undef $client;
		sleep 0.2;
	};
	# A client that failed a whole round may be holding the server for
	# dead: a new one tries again at once.
	undef $client unless @ok;
	print {$acks} join('', map { "$_\n" } @ok) if @ok;
	my $lost = $o{'per-round'} - @ok;
	print STDERR "round $round: $lost not acknowledged\n" if $lost;
	return (scalar(@ok), $lost);
}

my $round = 0;
while (!-e $o{stop}) {
	last if $o{'max-rounds'} && $round >= $o{'max-rounds'};
	my ($ok, $no) = $o{mode} eq 'latency' ? round_latency($round) :
	    round_throughput($round);
	$acked += $ok;
	$refused += $no;
	$round++;
	sleep $o{pause} if $o{pause} > 0;
}
print "rounds $round, acknowledged $acked, refused $refused\n";
exit 0;
