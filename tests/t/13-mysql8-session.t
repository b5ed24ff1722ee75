#!/usr/bin/perl
# MySQL 8.0.3 removed the tx_isolation variable: a session that sets it is
# refused ("Unknown system variable"), and Garivini could not connect to
# MySQL 8. Debian 12 ships no MySQL 8 server, so a proxy between Garivini and
# MariaDB stands in for one: it renames tx_isolation in what clients send,
# and the server answers as MySQL 8 would. Through it, jobs are inserted,
# claimed and completed, and every session runs at READ COMMITTED.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 1, own_mariadb => 1);
my $dir = $t->dir;
my $admin = $t->_admin_dbh;
$admin->do("SET GLOBAL general_log_file = '$dir/general.log'");
$admin->do('SET GLOBAL general_log = 1');

my $proxy_port = GvTest::_free_port();
my $script = "$dir/mysql8-proxy.pl";
open(my $fh, '>', $script) or die;
print $fh <<'PERL';
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
my ($listen_port, $server_port) = @ARGV;
my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
    LocalPort => $listen_port, Listen => 16, ReuseAddr => 1) or die "$!";
my $sel = IO::Select->new($l);
my (%peer, %to_server);
while (1) {
    for my $s ($sel->can_read) {
        if ($s == $l) {
            my $c = $l->accept or next;
            my $u = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                PeerPort => $server_port) or do { close $c; next };
            @peer{$c, $u} = ($u, $c);
            $to_server{$c} = 1;
            $sel->add($c, $u);
            next;
        }
        # Both ends of a pair can be readable in one pass: the second is
        # gone once the first closed the pair (the readiness probe's own
        # connection did that and killed the proxy).
        my $other = $peer{$s} or next;
        my $n = sysread($s, my $buf, 65536);
        if (!$n) {
            $sel->remove($s, $other);
            delete @peer{$s, $other};
            delete @to_server{$s, $other};
            close $s;
            close $other;
            next;
        }
        # Same length, so the packet header stays right.
        $buf =~ s/tx_isolation/tx_isolatioX/g if $to_server{$s};
        syswrite($other, $buf);
    }
}
PERL
close $fh;
my $proxy = $t->spawn('perl', $script, $proxy_port, $t->db_port);
ok($t->wait_for('the proxy to listen', 10, sub {
	IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $proxy_port)
}), 'a server without tx_isolation listens');

my $ini = $t->write_ini('db.1.host' => '127.0.0.1',
    'db.1.port' => $proxy_port, 'db.1.socket' => undef,
    'queue_runner.lease_seconds' => 30);
my ($code, $out, $err) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-f', 'mysql8', '-n', 20, '-a', 'job {n}');
is($code, 0, 'jobs inserted through it') or diag($err);
unlike($err, qr/tx_isolat/, 'no unknown variable');
my $ran = "$dir/ran.txt";
my @procs = ($t->spawn($t->build_path('gv_consume'), '-c', $ini,
    '-f', 'mysql8', '-o', $ran), $t->spawn($t->build_path('garivini'),
    '--role', 'queue_runner', '-c', $ini));
ok($t->wait_for('the jobs to complete', 30, sub { $t->count(1) == 0 }),
    'claimed and completed through it');
$t->stop($_, 'TERM', 10) for reverse @procs;
my @lines;
if (open(my $in, '<', $ran)) {
	@lines = <$in>;
	close $in;
}
is(scalar(@lines), 20, 'every job ran once');

# Every Garivini session (one that prepares statements: this test's own
# DBI handle does not) set READ COMMITTED as its first statement.
$admin->do('SET GLOBAL general_log = 0');
open(my $log, '<', "$dir/general.log") or die;
my (%prepared, %first);
while (<$log>) {
	if (/\s(\d+)\s+Prepare\s/) {
		$prepared{$1} = 1;
	} elsif (/\s(\d+)\s+Query\s+(.*)/ && !exists $first{$1}) {
		$first{$1} = $2;
	}
}
close $log;
my @sessions = keys %prepared;
cmp_ok(scalar(@sessions), '>=', 3, scalar(@sessions) . ' sessions seen');
is_deeply([grep { ($first{$_} // '') !~
    /^SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED\s*$/ } @sessions],
    [], 'each began at READ COMMITTED');

done_testing();
