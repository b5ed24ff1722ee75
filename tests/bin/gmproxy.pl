#!/usr/bin/perl
# gmproxy: a TCP proxy in front of gearmand that misbehaves on purpose, for
# the tests (tests/t, tests/faults).
#
#   gmproxy.pl --port PORT [--to HOST:PORT] [--drop-created]
#              [--connections FILE] [--requests FILE]
#              [--admin-delay SECONDS] [--submit-delay SECONDS] [--events FILE]
#              [--to-clients-stall]
#
# --to: forward every connection to this gearmand, both ways.
#   Without it the proxy is a black hole: it accepts connections, reads what
#   comes and never answers, like a gearmand stopped or stuck.
# --drop-created: drop the JOB_CREATED packets gearmand sends to a client.
#   gearmand queues the job, the submitter never learns it (an answer lost
#   on the way back). Connections that speak the text admin protocol pass
#   unchanged.
# --connections FILE: append one line per accepted connection.
# --requests FILE: append one line per admin `status` request a client
#   sends (counted on every connection, black hole included).
# --admin-delay SECONDS: gearmand's answers on text (admin) connections
#   reach the client SECONDS late: a slow or loaded gearmand.
# --submit-delay SECONDS: a background submit (SUBMIT_JOB_BG, _HIGH_BG,
#   _LOW_BG) reaches gearmand SECONDS late, and what follows it on that
#   connection with it: gearmand queues the job late, and so acknowledges it
#   late.
# --events FILE: append "EVENT TIME" lines (TIME from Time::HiRes, one clock
#   for all): "status" when a `status` request comes from a client,
#   "answer" when the end of a status answer (".") goes to the client,
#   "complete" when a worker's WORK_COMPLETE comes.
# --to-clients-stall: on SIGUSR1 gearmand stops answering its clients (the
#   requests of connections that submit or ask `status` are held, not
#   forwarded), on SIGUSR2 it goes on (what was held goes to gearmand);
#   workers' connections pass. A gearmand stuck for its clients: stopping
#   the whole gearmand also stalls libgearman's workers connected to it and
#   another server (they wait for its answer to GRAB_JOB), which a test of
#   the clients' side would trip over.
#
# SIGUSR1 (without --to-clients-stall): refuse new connections from now on
#   (each is accepted and closed at once, as by a gearmand at its descriptor
#   limit); the connections already open go on working. SIGUSR2: accept
#   them again.
#
# Prints "ready" on stdout once it listens. Ends on TERM.
use strict;
use warnings;
use Getopt::Long;
use IO::Handle;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time);

my ($port, $to, $drop_created, $connections, $requests, $events);
my ($admin_delay, $submit_delay, $stall_switch) = (0, 0, 0);
GetOptions('port=i' => \$port, 'to=s' => \$to,
    'drop-created' => \$drop_created, 'connections=s' => \$connections,
    'requests=s' => \$requests, 'admin-delay=f' => \$admin_delay,
    'submit-delay=f' => \$submit_delay, 'events=s' => \$events,
    'to-clients-stall' => \$stall_switch)
    or die "usage: gmproxy.pl --port PORT [--to HOST:PORT] "
    . "[--drop-created] [--connections FILE] [--requests FILE] "
    . "[--admin-delay SECONDS] [--submit-delay SECONDS] [--events FILE] "
    . "[--to-clients-stall]\n";
die "gmproxy: --port is required\n" unless $port;

my $JOB_CREATED = 8;
my $WORK_COMPLETE = 13;
my %BACKGROUND_SUBMIT = map { $_ => 1 } (18, 32, 34);
# Requests only a worker sends: CAN_DO, CANT_DO, RESET_ABILITIES, PRE_SLEEP,
# GRAB_JOB, WORK_STATUS, WORK_COMPLETE, WORK_FAIL, SET_CLIENT_ID,
# CAN_DO_TIMEOUT, WORK_EXCEPTION, WORK_DATA, WORK_WARNING, GRAB_JOB_UNIQ,
# GRAB_JOB_ALL.
my %WORKER = map { $_ => 1 } (1, 2, 3, 4, 9, 12, 13, 14, 22, 23, 25, 28, 29,
    30, 39);
my $NEVER = 9**9**9;
my ($stalled, $refuse) = (0, 0);
$SIG{TERM} = sub { exit 0 };
# USR1 and USR2: stall and go on with --to-clients-stall, else refuse new
# connections and accept them again.
if ($stall_switch) {
	$SIG{USR1} = sub { $stalled = 1 };
	$SIG{USR2} = sub { $stalled = 0 };
} else {
	$SIG{USR1} = sub { $refuse = 1 };
	$SIG{USR2} = sub { $refuse = 0 };
}
$SIG{PIPE} = 'IGNORE';

my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
    LocalPort => $port, Listen => 128, ReuseAddr => 1, Proto => 'tcp')
    or die "gmproxy: listen on $port: $!\n";
STDOUT->autoflush(1);
print "ready\n";

my $sel = IO::Select->new($listen);
# fileno -> { peer => socket, from_server => 0/1, buf => '', mode => ... }
my %conn;

sub count_line {
	my ($file) = @_;
	open(my $fh, '>>', $file) or die "$file: $!";
	print $fh "x\n";
	close $fh;
}

my $events_fh;
if (defined $events) {
	open($events_fh, '>>', $events) or die "$events: $!";
	$events_fh->autoflush(1);
}

sub event {
	my ($what) = @_;
	printf $events_fh "%s %.6f\n", $what, time if $events_fh;
}

sub close_pair {
	my ($s) = @_;
	my $c = delete $conn{ fileno($s) } or return;
	$sel->remove($s);
	close $s;
	if (my $p = $c->{peer}) {
		delete $conn{ fileno($p) };
		$sel->remove($p);
		close $p;
	}
}

# What of gearmand's bytes goes on to the client: whole packets, minus
# JOB_CREATED; text (admin) connections pass as they are.
sub filter {
	my ($c) = @_;
	my $out = '';
	while (length $c->{buf}) {
		$c->{mode} //= substr($c->{buf}, 0, 1) eq "\0" ? 'binary' :
		    'text';
		if ($c->{mode} eq 'text') {
			$out .= $c->{buf};
			$c->{buf} = '';
			last;
		}
		last if length $c->{buf} < 12;
		my (undef, $type, $size) = unpack('a4 N N', $c->{buf});
		last if length $c->{buf} < 12 + $size;
		my $packet = substr($c->{buf}, 0, 12 + $size, '');
		$out .= $packet unless $type == $JOB_CREATED;
	}
	return $out;
}

# A client's bytes cut into whole packets (binary) or passed as they come
# (text), each piece with the time it may go on to gearmand: a background
# submit, and all that follows it on the connection, --submit-delay late.
sub from_client {
	my ($c, $data) = @_;
	my $now = time;
	$c->{cbuf} .= $data;
	$c->{cmode} //= substr($c->{cbuf}, 0, 1) eq "\0" ? 'binary' : 'text';
	my @out;
	if ($c->{cmode} eq 'text' ||
	    (!$submit_delay && !$events_fh && !$stall_switch)) {
		if ($c->{cmode} eq 'text') {
			event('status') for $c->{cbuf} =~ /^status\r?\n/mg;
		}
		push @out, [$stalled && $c->{cmode} eq 'text' ? $NEVER : $now,
		    $c->{cbuf}];
		$c->{cbuf} = '';
		return @out;
	}
	while (length $c->{cbuf} >= 12) {
		my (undef, $type, $size) = unpack('a4 N N', $c->{cbuf});
		last if length $c->{cbuf} < 12 + $size;
		my $packet = substr($c->{cbuf}, 0, 12 + $size, '');
		event('complete') if $type == $WORK_COMPLETE;
		$c->{worker} = 1 if $WORKER{$type};
		my $due = $c->{held_until} && $c->{held_until} > $now ?
		    $c->{held_until} : $now;
		if ($submit_delay && $BACKGROUND_SUBMIT{$type}) {
			$due = $now + $submit_delay if $now + $submit_delay > $due;
			$c->{held_until} = $due;
		}
		$due = $NEVER if $stalled && !$c->{worker};
		push @out, [$due, $packet];
	}
	return @out;
}

# Write what is due of each connection's queue, in order.
sub flush_due {
	my $now = time;
	for my $c (values %conn) {
		next unless $conn{ fileno($c->{sock}) // -1 };
		my $q = $c->{queue} or next;
		while (@$q && $q->[0][0] <= $now) {
			my ($due, $data, $answer) = @{ shift @$q };
			my $off = 0;
			while ($off < length $data) {
				my $w = syswrite($c->{peer}, $data,
				    length($data) - $off, $off);
				unless (defined $w) {
					close_pair($c->{sock});
					last;
				}
				$off += $w;
			}
			event('answer') if $answer;
			last unless $conn{ fileno($c->{sock}) // -1 };
		}
	}
}

sub next_due {
	my $min;
	for my $c (values %conn) {
		my $q = $c->{queue} or next;
		next unless @$q;
		$min = $q->[0][0] if !defined $min || $q->[0][0] < $min;
	}
	return defined $min ? ($min - time < 0 ? 0 : $min - time) : undef;
}

my $was_stalled = 0;
while (1) {
	if ($was_stalled && !$stalled) {
		# Going on: what was held goes now, in order.
		my $now = time;
		for my $c (values %conn) {
			$_->[0] = $now for grep { $_->[0] == $NEVER }
			    @{ $c->{queue} || [] };
		}
	}
	$was_stalled = $stalled;
	my $wait = next_due();
	$wait = undef if defined $wait && $wait > 1e9;
	my @ready = $sel->can_read($wait);
	for my $s (@ready) {
		if ($s == $listen) {
			my $client = $listen->accept or next;
			count_line($connections) if defined $connections;
			if ($refuse) {
				close $client;
				next;
			}
			my $server;
			if (defined $to) {
				my ($h, $p) = split /:/, $to;
				$server = IO::Socket::INET->new(PeerAddr => $h,
				    PeerPort => $p, Proto => 'tcp');
				unless ($server) {
					close $client;
					next;
				}
			}
			$conn{ fileno($client) } = { sock => $client,
			    peer => $server, from_server => 0, queue => [] };
			$sel->add($client);
			if ($server) {
				$conn{ fileno($server) } = { sock => $server,
				    peer => $client, from_server => 1,
				    buf => '', queue => [] };
				$sel->add($server);
			}
			next;
		}
		# A socket closed with its pair earlier in this round.
		defined(my $fd = fileno($s)) or next;
		my $c = $conn{$fd} or next;
		my $n = sysread($s, my $data, 65536);
		unless ($n) {
			close_pair($s);
			next;
		}
		if (!$c->{from_server}) {
			if (defined $requests) {
				count_line($requests)
				    for $data =~ /^status\r?\n/mg;
			}
			next unless $c->{peer};    # the black hole
			push @{ $c->{queue} }, from_client($c, $data);
			next;
		}
		if ($drop_created) {
			$c->{buf} .= $data;
			$data = filter($c);
		}
		$c->{mode} //= substr($data, 0, 1) eq "\0" ? 'binary' : 'text'
		    if length $data;
		my $text = ($c->{mode} // '') eq 'text';
		push @{ $c->{queue} }, [time + ($text ? $admin_delay : 0), $data,
		    $text && $data =~ /^\.\r?$/m];
	}
	flush_due();
}
