#!/usr/bin/perl
# Reading queue depths for the watermark must stay cheap: the QueueRunner
# keeps its admin connection to a gearmand open across rounds, and a second
# configured gearmand that accepts connections but never answers (stopped,
# stuck, black-holed) must not hold back the rounds that dispatch to the
# healthy one. Both servers are proxies (tests/bin/gmproxy.pl) that count
# connections and `status` requests; the worker talks to gearmand directly.
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use GvTest;

my $t = GvTest->new(dbs => 1);
my $dir = $t->dir;
my ($healthy, $hole) = (GvTest::_free_port(), GvTest::_free_port());
my @proxies = (
	$t->spawn({ name => 'healthy' }, $^X, $t->repo_dir . '/tests/bin/gmproxy.pl',
	    '--port', $healthy, '--to', '127.0.0.1:' . $t->gearmand_port(1),
	    '--connections', "$dir/healthy.conn", '--requests',
	    "$dir/healthy.req"),
	$t->spawn({ name => 'hole' }, $^X, $t->repo_dir . '/tests/bin/gmproxy.pl',
	    '--port', $hole, '--connections', "$dir/hole.conn", '--requests',
	    "$dir/hole.req"),
);
for my $p (@proxies) {
	ok($t->wait_for_log(qr/^ready$/, 10, $t->spawn_out($p)), 'a proxy listens');
}

my %common = ('queue_runner.lease_seconds' => 60,
    'queue_runner.queue_watermark_depth' => 100,
    'queue_runner.batch_max_size' => 100,
    'queue_runner.batch_run_sleep' => 0.05);
my $direct = $t->write_ini(%common);
my $roles = $t->write_ini(%common, file => 'roles.ini',
    'garivini.gearman_servers' => "127.0.0.1:$healthy,127.0.0.1:$hole");
chmod(0600, $direct, $roles);

sub lines {
	my ($file) = @_;
	open(my $fh, '<', $file) or return 0;
	my @l = <$fh>;
	return scalar @l;
}

my $n = 2000;
my ($code, undef, $err) = $t->run($t->build_path('gv_inject'), '-c', $direct,
    '-f', 'flow', '-n', $n, '-a', 'job {n}');
is($code, 0, "$n jobs inserted") or diag($err);
my $ran = "$dir/ran.txt";
my $worker = $t->spawn($t->build_path('gv_consume'), '-c', $direct,
    '-f', 'flow', '-o', $ran);
my $t0 = time;
my $runner = $t->spawn($t->build_path('garivini'), '--role', 'queue_runner',
    '-c', $roles);
ok($t->wait_for('every job to run', 180, sub { $t->count(1) == 0 }),
    'every job ran');
my $took = time - $t0;
my %c = map { $_ => lines("$dir/$_") }
    qw(healthy.conn healthy.req hole.conn hole.req);
diag(sprintf('%d jobs in %.1f s; healthy gearmand: %d connections, %d status '
    . 'requests; black hole: %d connections, %d status requests', $n, $took,
    @c{qw(healthy.conn healthy.req hole.conn hole.req)}));

my %seen;
open(my $fh, '<', $ran) or die "$ran: $!";
while (<$fh>) { chomp; my @f = split /\t/; $seen{ $f[4] }++ }
close $fh;
is(scalar(keys %seen), $n, 'each job ran');
is(scalar(grep { $_ > 1 } values %seen), 0, 'none twice');

# One admin connection and one submit connection, kept: not one per round.
cmp_ok($c{'healthy.conn'}, '<=', 4, 'the connections to the healthy '
    . 'gearmand are kept across rounds');
# Rounds went on while the black hole kept silent: the healthy gearmand was
# asked many times for each time the black hole was tried. Waiting on the
# black hole every round would make the two counts equal.
cmp_ok($c{'healthy.req'}, '>', 4 * $c{'hole.conn'}, 'the black hole is '
    . 'skipped while it is known not to answer');
cmp_ok($c{'healthy.req'}, '>=', 10, 'the watermark read the healthy '
    . 'gearmand round after round');

$t->stop($runner, 'TERM', 10);
$t->stop($worker, 'TERM', 10);
for my $p (@proxies) { $t->stop($p, "TERM", 5) }

done_testing();
