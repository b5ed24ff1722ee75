#!/usr/bin/perl
# One of two databases loses its job table mid-run (renamed away, then
# back), both modes. The QueueRunners back that database off alone and go
# on dispatching the other's jobs; its own jobs wait and run once the table
# is back. Inserts that reach it fail and are not acknowledged; every
# acknowledged job still runs, and the QueueRunner pool never fails.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use GvChaos;

my $c = GvChaos->new(dbs => 2);
my $t = $c->t;
my $master = $c->start_master;

for my $mode (qw(throughput latency)) {
	$c->scenario('broken-schema', $mode, sub {
		my ($self, $l) = @_;
		$t->dbh(2)->do('RENAME TABLE job TO job_away');
		my $before = keys %{ GvChaos::runs($l->{ran}) };
		ok($t->wait_for("$mode: jobs to flow from database 1", 30,
		    sub { keys %{ GvChaos::runs($l->{ran}) } >= $before + 50 }),
		    "$mode: the healthy database is served meanwhile");
		ok($t->wait_for("$mode: the status file to name database 2",
		    10, sub {
			my $st = $t->status_json or return 0;
			grep { $_ == 2 }
			    @{ $st->{pools}{queue_runner}{broken_dbs} // [] };
		    }), "$mode: the status file shows database 2 broken");
		sleep 2;
		$t->dbh(2)->do('RENAME TABLE job_away TO job');
	}, drain => 120);
	my $st = $t->status_json;
	ok(!$st->{pools}{queue_runner}{failed},
	    "$mode: the QueueRunner pool did not fail");
}
ok(scalar($c->log_grep(qr/job table of database 2 does not match/)),
    'the log says database 2 was broken');
ok(scalar($c->log_grep(qr/database 2: the job table works again/)),
    'and that it works again');
ok($t->running($master), 'the master never noticed');
is($c->stop_master, 0, 'the master stops gracefully');
done_testing();
