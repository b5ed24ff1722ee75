#!/usr/bin/perl
# Two masters on one gearmand and one database, low latency under load;
# master A reaches the database through a TCP proxy, its only host, master
# B directly. The proxy stops for three leases, as A's only host would
# (issue 27, defect 9): A cannot reach its database while B can.
#
# A's Injectors and Controllers must stop taking work from gearmand, and B's
# take it all: every inject is acknowledged (a call A took as its database
# went is handed back to gearmand, not refused), none is lost, and every
# job runs within a second or two, not a lease later. Two loads:
#
#   master-cut-off/latency   flows through the cut: lost 0; a call whose
#                            insert was in flight as the way went has an
#                            unknown fate, and is refused saying so (the
#                            only refusals); a job A was running as it
#                            lost its database may run again (its
#                            completion cannot reach the database), so
#                            duplicates are only shown
#   master-cut-off-after     starts once A has withdrawn: refused 0,
#                            lost 0, duplicates 0, and every run is the
#                            first attempt (a job left to its lease runs as
#                            a later one, sent again by a QueueRunner)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use GvChaos;

# No watermark: every job an Injector stores is submitted at once (attempt
# 0), so a job at a later attempt is one a QueueRunner sent again when its
# lease ended. With the suite's watermark, a job stored while gearmand held
# 100 is sent by a QueueRunner at once, at attempt 1.
my $c = GvChaos->new(dbs => 1,
    ini => { 'queue_runner.queue_watermark_depth' => 0 });
my $t = $c->t;

my $port = GvTest::_free_port();
sub start_proxy {
	my $pid = $t->spawn({ name => "dbproxy-" . time }, $^X,
	    $t->repo_dir . '/tests/bin/gmproxy.pl', '--port', $port, '--to',
	    $t->db_host . ':' . $t->db_port);
	ok($t->wait_for_log(qr/^ready$/, 10, $t->spawn_out($pid)),
	    "A's way to the database listens on $port");
	return $pid;
}
my $proxy = start_proxy();
my $ini_a = $t->write_ini(%{ $c->{ini} }, file => 'a.ini',
    'db.1.host' => '127.0.0.1', 'db.1.port' => $port);
chmod 0600, $ini_a, $c->ini;
my $master = $c->start_master(ini => $ini_a);
my ($master_b, undef, $status_b) = $c->start_second_master;

sub withdrawn {
	my $st = $t->status_json or return 0;
	my $p = $st->{pools};
	return $p->{injector}{withdrawn} == $p->{injector}{running} &&
	    $p->{controller}{withdrawn} == $p->{controller}{running};
}

# The loader's last line: "rounds R, acknowledged A, refused F".
sub refused {
	my ($l) = @_;
	my ($line) = grep { /^rounds / } do {
		open(my $fh, '<', $t->spawn_out($l->{loader})) or return -1;
		<$fh>;
	};
	return defined $line && $line =~ /refused (\d+)/ ? $1 : -1;
}

my $through = $c->begin_load('master-cut-off', 'latency', consumers => 4,
    per_round => 20, pause => 0.2);
$t->wait_for('jobs to flow', 30, sub {
	keys %{ GvChaos::runs($through->{ran}) } >= 50 });
$t->stop($proxy, 'TERM', 10);
ok($t->wait_for('A to withdraw', 20, \&withdrawn),
    'A\'s Injectors and Controllers withdrew from gearmand');
my $after = $c->begin_load('master-cut-off-after', 'latency', consumers => 4,
    per_round => 20, pause => 0.2);
sleep 3 * $c->lease;
$proxy = start_proxy();
ok($t->wait_for('A to take work again', 20, sub { !withdrawn() }),
    'A takes work again once its database answers');

$c->finish_load($through);
my $unknown = () = $c->log_grep(qr/fate unknown/);
cmp_ok(refused($through), '<=', $unknown, 'master-cut-off/latency: the '
    . 'only calls not acknowledged are those whose insert was in flight as '
    . "the way went, and their clients were told the fate is unknown "
    . "($unknown)");
$c->finish_load($after, max_duplicates => 0);
is(refused($after), 0, 'master-cut-off-after: every inject acknowledged');
my @later = grep { $_->{attempt} != 0 }
    @{ $t->consume_runs($after->{ran}) };
is(scalar(@later), 0, 'master-cut-off-after: every job ran at its first '
    . 'attempt, none a lease later')
    or diag(scalar(@later) . ' ran later, e.g. ' . $later[0]{arg});
cmp_ok(scalar($c->log_grep(qr/not taking inject_jobs/)), '>', 0,
    'A\'s log says its Injectors stopped taking calls');

ok($t->running($master), 'master A lived through it');
ok($t->running($master_b), 'master B lived through it');
$t->stop($master_b, 'TERM', 20);
is($c->stop_master, 0, 'master A stops gracefully');
done_testing();
