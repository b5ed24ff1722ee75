#!/usr/bin/perl
# A worker's answer whose reply was lost, and transactions the server rolled
# back for a conflict: libgarivini on a GV_FAULTS build
# (tests/it/it_client.c, one Check case per process with its own fault).
#
#   failure_answer_lost     1,update,after: gv_failed_job counted once, not
#                           twice (the retry parked jobs early)
#   completion_answer_lost  1,delete,after: gv_complete_job is a success,
#                           not GV_ESTALE
#   insert_commit_deadlock  1,commit,deadlock: gv_insert_jobs tries the
#                           rolled-back batch again; stored once
#   select_answer_lost      2,claim,after: a claim's select is done, its
#                           answer lost on a live connection; dropping the
#                           connection does not wait for the result
#   insert_commit_gone      1,commit: an insert batch's COMMIT never reached
#                           the server, which rolled it back: done again,
#                           every job stored once
#   insert_commit_lost_keyed, insert_commit_lost_unkeyed   1,commit,after:
#                           a COMMIT done and its answer lost; keyed jobs are
#                           settled by their keys (GV_OK, stored once), the
#                           others are GV_EUNKNOWN naming them, not GV_EDB,
#                           and not stored a second time elsewhere
#   insert_one_lost_unkeyed, insert_one_lost_keyed   1,insert,after: the
#                           same for a single insert (gv_insert_job, the
#                           Injector's): GV_EUNKNOWN, stored once, not
#                           again on the other database; a keyed one
#                           settled by its key
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 2, gearmands => 0);
my $ini = $t->write_ini('garivini.gearman_servers' => undef);
my %cases = (
	failure_answer_lost => '1,update,after',
	completion_answer_lost => '1,delete,after',
	insert_commit_deadlock => '1,commit,deadlock',
	select_answer_lost => '2,claim,after',
	insert_commit_gone => '1,commit',
	insert_commit_lost_keyed => '1,commit,after',
	insert_commit_lost_unkeyed => '1,commit,after',
	insert_one_lost_unkeyed => '1,insert,after',
	insert_one_lost_keyed => '1,insert,after',
);
for my $case (sort keys %cases) {
	my ($code, $out, $err) = $t->run({ env => { GV_TEST_INI => $ini,
	    GV_FAULT_DB => $cases{$case}, CK_RUN_CASE => $case },
	    timeout => 120 }, $t->build_path('tests/it_client'));
	is($code, 0, "$case ($cases{$case})") or diag($out, $err);
	like($out, qr/100%: Checks: 1, Failures: 0, Errors: 0/,
	    "$case: the case ran");
}
done_testing();
