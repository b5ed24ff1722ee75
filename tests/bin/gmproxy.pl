#!/usr/bin/perl
# gmproxy: a TCP proxy in front of gearmand that misbehaves on purpose, for
# the tests (tests/t, tests/faults).
#
#   gmproxy.pl --port PORT [--to HOST:PORT] [--drop-created]
#              [--connections FILE] [--requests FILE]
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
#
# SIGUSR1: refuse new connections from now on (each is accepted and closed
#   at once, as by a gearmand at its descriptor limit); the connections
#   already open go on working. SIGUSR2: accept them again.
#
# Prints "ready" on stdout once it listens. Ends on TERM.
use strict;
use warnings;
use Getopt::Long;
use IO::Handle;
use IO::Select;
use IO::Socket::INET;

my ($port, $to, $drop_created, $connections, $requests);
GetOptions('port=i' => \$port, 'to=s' => \$to,
    'drop-created' => \$drop_created, 'connections=s' => \$connections,
    'requests=s' => \$requests)
    or die "usage: gmproxy.pl --port PORT [--to HOST:PORT] "
    . "[--drop-created] [--connections FILE] [--requests FILE]\n";
die "gmproxy: --port is required\n" unless $port;

my $JOB_CREATED = 8;
my $refuse = 0;
$SIG{TERM} = sub { exit 0 };
$SIG{USR1} = sub { $refuse = 1 };
$SIG{USR2} = sub { $refuse = 0 };
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

while (1) {
	for my $s ($sel->can_read) {
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
			    peer => $server, from_server => 0 };
			$sel->add($client);
			if ($server) {
				$conn{ fileno($server) } = { sock => $server,
				    peer => $client, from_server => 1,
				    buf => '' };
				$sel->add($server);
			}
			next;
		}
		my $c = $conn{ fileno($s) } or next;
		my $n = sysread($s, my $data, 65536);
		unless ($n) {
			close_pair($s);
			next;
		}
		if (!$c->{from_server} && defined $requests) {
			count_line($requests) for $data =~ /^status\r?\n/mg;
		}
		next unless $c->{peer};    # the black hole
		if ($c->{from_server} && $drop_created) {
			$c->{buf} .= $data;
			$data = filter($c);
		}
		my $off = 0;
		while ($off < length $data) {
			my $w = syswrite($c->{peer}, $data, length($data) - $off,
			    $off);
			unless (defined $w) {
				close_pair($s);
				last;
			}
			$off += $w;
		}
	}
}
