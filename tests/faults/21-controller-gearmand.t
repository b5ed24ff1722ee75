#!/usr/bin/perl
# The Controller when gearmand cannot answer its questions (issue 27), low
# latency under load:
# - gearmand refusing new connections (tests/bin/gmproxy.pl in front of it
#   for the master's roles, after SIGUSR1) while jobs run past their
#   job_timeout (the consumers stopped longer than it): the Controller cannot
#   ask whether a worker has them, and must not read that as "still queued"
#   and give them back, or they run again while the first run goes on. No job
#   runs twice. The consumers take 0.2 s a job, so that most have one in hand
#   when they stop.
# - gearmand stopped (SIGSTOP) past the function's job_timeout with jobs in
#   flight: submissions it never acknowledged and questions it never answered
#   are not the jobs' fault. No job is counted failed: every run a consumer
#   logs has failcount 0, and the function's failed counter stays 0. (Its
#   jobs may run twice: one whose gearmand cannot say for a lease past its
#   job_timeout is left to its lease.)
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use GvChaos;

my $c = GvChaos->new(dbs => 1, ini => {
    'function.chaos_refused_latency.job_timeout' => 3,
    'function.chaos_gearmand_stop_latency.job_timeout' => 2 });
my $t = $c->t;

my $port = GvTest::_free_port();
my $proxy = $t->spawn({ name => 'gmproxy' }, $^X,
    $t->repo_dir . '/tests/bin/gmproxy.pl', '--port', $port, '--to',
    '127.0.0.1:' . $t->gearmand_port(1));
ok($t->wait_for_log(qr/^ready$/, 10, $t->spawn_out($proxy)), 'the proxy listens');
my $roles = $c->rewrite_ini(file => 'roles.ini',
    'garivini.gearman_servers' => "127.0.0.1:$port");
chmod 0600, $roles;
my $master = $c->start_master(ini => $roles);

$c->scenario('refused', 'latency', sub {
	my ($self, $l) = @_;
	ok(kill('USR1', $proxy), 'the proxy refuses new connections');
	ok(kill('STOP', @{ $l->{consumers} }), 'the consumers stopped');
	sleep 5;
	ok(kill('CONT', @{ $l->{consumers} }), 'the consumers continued');
	sleep 2;
	ok(kill('USR2', $proxy), 'the proxy accepts again');
}, max_duplicates => 0, consumers => 8, consumer_args => ['-s', 0.2],
    per_round => 5, pause => 0.2);

my $r = $c->scenario('gearmand-stop', 'latency', sub {
	my $pid = $t->gearmand_pid(1);
	# Three times: a stop finds a submission in flight only now and then.
	for (1 .. 3) {
		ok(kill('STOP', $pid), 'gearmand stopped');
		sleep 4;
		ok(kill('CONT', $pid), 'gearmand continued');
		sleep 1;
	}
});
my @failed;
for (GvChaos::_lines($t->dir . '/chaos_gearmand_stop_latency.ran')) {
	my @f = split /\t/, $_, 5;
	push @failed, $_ if $f[3];
}
is(scalar(@failed), 0, 'gearmand-stop: every run had failcount 0')
    or diag(@failed[0 .. ($#failed > 9 ? 9 : $#failed)]);
my $st = $t->status_json;
is($st->{functions}{chaos_gearmand_stop_latency}{failed} // 0, 0,
    'gearmand-stop: no failure counted');

ok($t->running($master), 'the master never noticed');
is($c->stop_master, 0, 'the master stops gracefully');
$t->stop($proxy, 'TERM', 5);
done_testing();
