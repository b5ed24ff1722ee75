#!/usr/bin/perl
# gv_inject and gv_consume in low-latency mode, as a script would use them:
# the answer (jobid, dbid) on stdout, a refusal's reason on stderr, exit 1.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 1);
my $ini = $t->write_ini();
my @pids = map { $t->spawn($t->build_path('garivini'), '--role', $_, '-c',
    $ini) } qw(injector controller);
my $out = $t->dir . '/hello.txt';
push @pids, $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f', 'hello',
    '-m', 'latency', '-o', $out);

my ($code, $stdout, $stderr) = $t->run($t->build_path('gv_inject'), '-c',
    $ini, '-m', 'latency', '-f', 'hello', '-a', 'world');
is($code, 0, 'gv_inject -m latency exits 0') or diag($stderr);
like($stdout, qr/^\{"jobid":\d+,"dbid":1\}$/, 'and prints the answer');
ok($t->wait_for('the job to run', 10, sub { -s $out }), 'the job ran');
like(do { open(my $fh, '<', $out); local $/; <$fh> }, qr/\tworld$/,
    'with its arg');
ok($t->wait_for('its row to go', 10, sub { $t->count(1) == 0 }),
    'and was completed by the Controller');

($code, $stdout, $stderr) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-m', 'latency', '-f', 'x' x 300, '-a', 'refused');
is($code, 1, 'a refused job exits 1');
like($stderr, qr/funcname is longer than 200 bytes/, 'with the reason');
is($t->count(1), 0, 'nothing stored');

($code, $stdout, $stderr) = $t->run($t->build_path('gv_inject'), '-c', $ini,
    '-m', 'latency', '-f', 'hello', '-n', 50, '-a', 'many {n}');
is($code, 0, '50 jobs injected');
like($stderr, qr/injected 50 of 50 jobs/, 'and counted');
ok($t->wait_for('all of them to run', 20, sub { $t->count(1) == 0 }),
    'all completed');
$t->stop($_, 'TERM', 10) for @pids;
done_testing();
