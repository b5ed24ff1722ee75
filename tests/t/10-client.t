#!/usr/bin/perl
# libgarivini against two real databases: tests/it/it_client.c (Check), run
# with the INI of this test's private servers. The cases of the db module
# (connections killed in the middle of a read or a transaction) run once
# more under valgrind: the use after free they guard against happens inside
# libmariadb, which ASan does not instrument.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 2, gearmands => 0);
my $ini = $t->write_ini('garivini.gearman_servers' => undef);
my ($code, $out, $err) = $t->run({ env => { GV_TEST_INI => $ini },
    timeout => 300 }, $t->build_path('tests/it_client'));
is($code, 0, 'it_client: every check passed');
diag($out, $err) if $code || $ENV{GV_TEST_VERBOSE};
like($out, qr/100%: Checks: \d+, Failures: 0, Errors: 0/, 'Check summary');

# Under ASan or TSan valgrind cannot run; that build's run above is its
# check.
SKIP: {
	skip('a sanitizer build runs without valgrind', 1)
	    if GvTest::build_dir() =~ /asan|tsan/;
	($code, $out, $err) = $t->run({ env => { GV_TEST_INI => $ini,
	    CK_RUN_CASE => 'db' }, timeout => 300 }, 'valgrind', '-q',
	    '--error-exitcode=9', $t->build_path('tests/it_client'));
	is($code, 0, 'it_client db cases under valgrind: no invalid access')
	    or diag($out, $err);
}
done_testing();
