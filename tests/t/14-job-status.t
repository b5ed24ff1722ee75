#!/usr/bin/perl
# What became of a job, through libgarivini, against two real databases:
# tests/it/it_status.c (Check), run with the INI of this test's private
# servers.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 2, gearmands => 0);
my $ini = $t->write_ini('garivini.gearman_servers' => undef,
    'function.nokeep.keep_done' => 0, 'function.short.keep_done' => 5,
    'function.window.unique_for' => 600);
my ($code, $out, $err) = $t->run({ env => { GV_TEST_INI => $ini },
    timeout => 300 }, $t->build_path('tests/it_status'));
is($code, 0, 'it_status: every check passed');
diag($out, $err) if $code || $ENV{GV_TEST_VERBOSE};
like($out, qr/100%: Checks: \d+, Failures: 0, Errors: 0/, 'Check summary');
done_testing();
