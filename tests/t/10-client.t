#!/usr/bin/perl
# libgarivini against two real databases: tests/it/it_client.c (Check), run
# with the INI of this test's private servers.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 2, gearmands => 0);
my $ini = $t->write_ini('garivini.gearman_servers' => undef);
my ($code, $out, $err) = $t->run({ env => { GV_TEST_INI => $ini },
    timeout => 300 }, $t->build_path('tests/it_client'));
is($code, 0, 'it_client: every check passed');
diag($out, $err) if $code;
like($out, qr/100%: Checks: \d+, Failures: 0, Errors: 0/, 'Check summary');
done_testing();
