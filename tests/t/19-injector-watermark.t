#!/usr/bin/perl
# The Injector's view of gearmand, shared by its threads ([injector]
# concurrency): the depths its watermark reads and the health of each
# server. A slow or stuck gearmand must not hold the threads back, must not
# be judged dead for an answer that came late, must be avoided by every
# thread once one knows it is stuck, and the watermark must hold while
# submits are slow (issue 27, defect 4).
#
# gearmand is reached through tests/bin/gmproxy.pl where it must be slow:
# --admin-delay (its `status` answers come late), --submit-delay (a
# background submit reaches it late), --events (when a status request
# came, when its answer left, when a worker completed a call).
use strict;
use warnings;
use Test::More;
use Time::HiRes qw(time);
use GvTest;

my $t = GvTest->new(dbs => 1, gearmands => 2);
my $dir = $t->dir;
my $concurrency = 4;
my $g1 = '127.0.0.1:' . $t->gearmand_port(1);
my $g2 = '127.0.0.1:' . $t->gearmand_port(2);
# The clients ask the first gearmand only; the Injectors serve it through
# the proxy of each part below.
my $client_ini = $t->write_ini(file => 'client.ini',
    'garivini.gearman_servers' => $g1);

# A proxy in front of gearmand $to: (pid, "127.0.0.1:PORT").
sub proxy {
	my ($name, $to, @opts) = @_;
	my $port = GvTest::_free_port();
	my $pid = $t->spawn({ name => $name }, $^X,
	    $t->repo_dir . '/tests/bin/gmproxy.pl', '--port', $port,
	    '--to', $to, @opts);
	ok($t->wait_for_log(qr/^ready$/, 10, $t->spawn_out($pid)),
	    "proxy $name listens");
	return ($pid, "127.0.0.1:$port");
}

# An Injector of $concurrency threads on these servers, logging to
# DIR/$name.log. Returns (pid, log).
sub injector {
	my ($name, $servers, %ini) = @_;
	my $log = "$dir/$name.log";
	my $ini = $t->write_ini(file => "$name.ini",
	    'garivini.gearman_servers' => $servers,
	    'garivini.log_file' => $log,
	    'injector.concurrency' => $concurrency, %ini);
	my $pid = $t->spawn({ name => $name }, $t->build_path('garivini'),
	    '--role', 'injector', '-c', $ini);
	ok($t->wait_for("$concurrency inject_jobs workers", 20, sub {
		my $st = $t->gearman_status(1);
		$st->{inject_jobs} && $st->{inject_jobs}{workers} ==
		    $concurrency }), "$name: one worker per thread");
	return ($pid, $log);
}

# $n calls of inject_jobs for shim jobs of $func (no worker serves them:
# they stay queued in gearmand), from four clients at once, each with four
# calls out: one slow call holds back only its client's next four. Returns
# the number of clients that did not exit 0.
sub inject {
	my ($func, $n) = @_;
	my @pids = map { $t->spawn({ name => 'gv_inject' },
	    $t->build_path('gv_inject'), '-c', $client_ini, '-m', 'latency',
	    '--shim', '-j', 4, '-f', $func, '-n', $n / 4, '-a', "job $_ {n}") }
	    1 .. 4;
	my $bad = 0;
	for my $pid (@pids) {
		my $code = $t->wait_exit($pid, 120);
		next if defined $code && $code == 0;
		$bad++;
		diag("gv_inject: exit " . ($code // 'timeout') . ', see '
		    . $t->spawn_out($pid));
	}
	return $bad;
}

sub events {
	my ($file) = @_;
	my @e;
	open(my $fh, '<', $file) or return \@e;
	while (<$fh>) { push @e, [split] }
	return \@e;
}

sub count_events {
	my ($file, $what) = @_;
	return scalar(grep { $_->[0] eq $what } @{ events($file) });
}

sub log_lines {
	my ($file, $re) = @_;
	open(my $fh, '<', $file) or return 0;
	return scalar(grep { /$re/ } <$fh>);
}

# Calls until the proxy has seen $answers status answers and $seconds have
# passed. Returns (calls, codes that were not 0).
sub calls_until {
	my ($func, $events, $answers, $seconds) = @_;
	my ($calls, $bad, $end) = (0, 0, time + $seconds);
	my $give_up = time + 90;
	while (time < $give_up && (time < $end ||
	    count_events($events, 'answer') < $answers)) {
		$bad += inject($func, 64);
		$calls += 64;
	}
	return ($calls, $bad);
}

# (a) A read of the depths waits for gearmand's answer with no lock held:
# while one status request is out, every thread goes on taking calls. A
# read that held the Injector's lock until the answer came would let only
# the calls already past the watermark check finish meanwhile, at most one
# per other thread (concurrency - 1). The answer comes 0.3 s late, within
# the half second a read waits for it.
{
	my $ev = "$dir/a.events";
	my ($proxy, $via) = proxy('slow-admin', $g1, '--admin-delay', 0.3,
	    '--events', $ev);
	my ($inj) = injector('a', $via);
	my ($calls, $bad) = calls_until('stall', $ev, 6, 3);
	is($bad, 0, "(a) $calls calls answered");
	my ($asked, $most, @windows);
	for my $e (@{ events($ev) }) {
		my ($what, $at) = @$e;
		if ($what eq 'status') { $asked = $at }
		elsif ($what eq 'answer' && defined $asked) {
			push @windows, [$asked, $at, 0];
			undef $asked;
		}
	}
	for my $e (@{ events($ev) }) {
		next unless $e->[0] eq 'complete';
		for my $w (@windows) {
			$w->[2]++ if $e->[1] > $w->[0] && $e->[1] < $w->[1];
		}
	}
	$most = 0;
	for my $w (@windows) { $most = $w->[2] if $w->[2] > $most }
	diag(sprintf('(a) %d status reads, calls answered while each was out: '
	    . '%s', scalar(@windows), join(' ', map { $_->[2] } @windows)));
	cmp_ok($most, '>=', $concurrency, '(a) while a status read waits, '
	    . 'the threads go on answering calls');
	is($t->stop($inj, 'TERM', 20), 0, 'the Injector stops cleanly');
	$t->stop($proxy, 'TERM', 5);
}

# (b) A gearmand whose status answers come 0.7 s late is slow, not dead: the
# answer is taken when it comes, and the server is never failed (backed
# off) for want of it. Debug logging shows every status that was given up.
{
	my $ev = "$dir/b.events";
	my ($proxy, $via) = proxy('late-admin', $g1, '--admin-delay', 0.7,
	    '--events', $ev);
	my ($inj, $log) = injector('b', $via, 'garivini.log_level' => 'debug');
	my ($calls, $bad) = calls_until('late', $ev, 8, 8);
	is($bad, 0, "(b) $calls calls answered");
	my $failed = log_lines($log, qr/no answer to status/);
	diag("(b) status reads given up: $failed; answers: "
	    . count_events($ev, 'answer'));
	is($failed, 0, '(b) a late status answer is taken, the server not '
	    . 'failed');
	is($t->stop($inj, 'TERM', 20), 0, 'the Injector stops cleanly');
	$t->stop($proxy, 'TERM', 5);
}

# (d) The watermark holds while submits are slow: a call that passed the
# watermark check stays counted until its submit is answered, whatever
# reads of the depths come in between. gearmand gets each background
# submit 1.2 s late, the watermark is 2 and no worker takes the jobs, so
# gearmand must end with at most 2 of them.
{
	my $ev = "$dir/d.events";
	my ($proxy, $via) = proxy('slow-submit', $g1, '--submit-delay', 1.2,
	    '--events', $ev);
	my ($inj) = injector('d', $via,
	    'queue_runner.queue_watermark_depth' => 2);
	my ($calls, $bad) = calls_until('capped', $ev, 5, 5);
	is($bad, 0, "(d) $calls calls answered");
	is($t->count(1, 'funcname = ?', 'capped'), $calls, '(d) each stored');
	my $queued = $t->gearman_status(1)->{capped}{total} // 0;
	diag("(d) queued in gearmand with a watermark of 2: $queued");
	cmp_ok($queued, '<=', 2, '(d) the watermark is not overshot');
	cmp_ok($queued, '>', 0, '(d) and jobs were submitted up to it');
	is($t->stop($inj, 'TERM', 20), 0, 'the Injector stops cleanly');
	$t->stop($proxy, 'TERM', 5);
}

# (c) A gearmand stuck for its clients (it accepts connections and requests,
# answers nothing) is avoided by every thread once one of them knows: at
# most the submits in flight when it got stuck, one per thread, are left to
# their lease. Jobs hash to both servers, so with per-thread health every
# thread runs into it, each after its own backoff ends. The proxy holds the
# requests of submitting and admin connections only (a SIGSTOPped gearmand
# would also stall the Injector's workers, which is not the subject here).
{
	my ($proxy, $via) = proxy('stuck', $g2, '--to-clients-stall');
	my ($inj, $log) = injector('c', "$g1,$via");
	is(inject('spread', 64), 0, '(c) calls flow to both servers');
	ok(kill('USR1', $proxy), '(c) the second gearmand stuck');
	my ($calls, $bad) = (0, 0);
	my $end = time + 12;
	while (time < $end) {
		$bad += inject('spread', 64);
		$calls += 64;
	}
	ok(kill('USR2', $proxy), '(c) and going on');
	is($bad, 0, "(c) $calls calls answered while it was stuck");
	(my $port2 = $via) =~ s/.*://;
	my $left = log_lines($log, qr/no answer from 127\.0\.0\.1:$port2 in time/);
	diag("(c) jobs left to their lease: $left");
	cmp_ok($left, '<=', $concurrency, '(c) the stuck gearmand is avoided '
	    . 'by all threads: at most one submit per thread left to its lease');
	is($t->count(1, 'funcname = ?', 'spread'), $calls + 64, '(c) each stored');
	is($t->stop($inj, 'TERM', 20), 0, 'the Injector stops cleanly');
	$t->stop($proxy, 'TERM', 5);
}

done_testing();
