#!/usr/bin/perl
# The status file is a contract: every key that garivini(8) documents and
# every key that gvctl status reads is in the file the master writes, with
# its documented type. gvctl turns a missing key into 0 or "-", so without
# this test a renamed key would go unnoticed. The keys are read from the
# manual page and from gvctl's source, not copied here, so that a key
# documented or read later is checked too.
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 1, gearmands => 1);
my $repo = $t->repo_dir;

# --- what the documentation and gvctl promise ---------------------------------
# The JSON example of the manual's STATUS FILE section, and its COUNTERS.
my $man = GvTest::_read_file("$repo/man/garivini.8");
my ($section) = $man =~ /^\.SH "STATUS FILE"\n(.*?)^\.SH /ms
    or BAIL_OUT('garivini.8 has no STATUS FILE section');
my ($example) = $section =~ /^\.EX\n(.*?)^\.EE/ms
    or BAIL_OUT('the STATUS FILE section has no example');
my ($counters_text) = $section =~ /^COUNTERS are\n(.*?)^a pool's counters/ms
    or BAIL_OUT('the STATUS FILE section names no COUNTERS');
# Each counter is a .B or .BR line; the parentheses explain them.
$counters_text =~ s/\(.*?\)//gs;
my @counters = $counters_text =~ /^\.BR? (\w+)/mg;
cmp_ok(scalar(@counters), '>=', 10, scalar(@counters)
    . ' counters documented');

# Its keys, by the object they belong to. The example is JSON with
# placeholders: each "key": is taken with the object it opens in.
my %doc = (top => {}, master => {}, last_reload => {}, pool => {},
    child => {}, function => {}, latency => {});
{
	my (@stack, $last_key);
	while ($example =~ /"(\w+)":\s*(\{?)|(\{)|(\})/g) {
		if (defined $1) {
			my ($key, $opens) = ($1, $2);
			my $in = $stack[-1];
			# Pool and function names and dbids are values, not
			# keys.
			if ($in eq 'pools' || $in eq 'functions' ||
			    $in eq 'db_hosts') {
				push @stack, $in eq 'pools' ? 'pool' :
				    $in eq 'functions' ? 'function' : 'skip'
				    if $opens;
				next;
			}
			$doc{$in}{$key} = 1 if exists $doc{$in};
			push @stack, $key if $opens;
			$last_key = $key;
		} elsif (defined $3) {
			# The document; an object of the children array; the
			# object of "last_reload": null | {...}.
			push @stack, !@stack ? 'top' :
			    $stack[-1] eq 'top' ? 'child' :
			    exists $doc{$last_key} ? $last_key : 'skip';
		} else {
			pop @stack;
		}
	}
}
# "children" opens an array, whose objects are the children.
$doc{top}{children} = 1 if $example =~ /"children":\s*\[/;
is_deeply([sort keys %{ $doc{top} }],
    [qw(children functions master pools written)],
    'the manual documents the top-level keys');
is_deeply([sort keys %{ $doc{function} }],
    [sort qw(dispatched done failed parked timed_out cancelled latency)],
    'and a function\'s');
is_deeply([sort keys %{ $doc{latency} }], [qw(buckets count sum)],
    'and its latency\'s');
ok(keys %{ $doc{master} } >= 7, 'and the master\'s')
    or diag(join(' ', sort keys %{ $doc{master} }));
ok(keys %{ $doc{pool} } >= 11, 'and a pool\'s')
    or diag(join(' ', sort keys %{ $doc{pool} }));
ok(keys %{ $doc{child} } >= 9, 'and a child\'s')
    or diag(join(' ', sort keys %{ $doc{child} }));
is_deeply([sort keys %{ $doc{last_reload} }], [qw(error result time)],
    'and last_reload\'s');
$doc{pool}{$_} = $doc{child}{$_} = 1 for @counters;

# Every key gvctl's status code (tools/gvctl_status.c) reads from the file.
my $reader = GvTest::_read_file("$repo/tools/gvctl_status.c")
    or BAIL_OUT('tools/gvctl_status.c: not read');
my %gvctl = map { $_ => 1 }
    $reader =~ /\b(?:jint|jstr|jnum|json_object_get)\(\w+,\s*"(\w+)"\)/g;
cmp_ok(scalar(keys %gvctl), '>=', 15, scalar(keys %gvctl)
    . ' keys read by gvctl status');

# --- what the master writes ------------------------------------------------------
my $ini = $t->write_ini('garivini.status_interval' => 0.5,
    'controller.processes' => 2);
my $pid = $t->spawn($t->build_path('garivini'), '-c', $ini);
# A job, so that "functions" has one: a QueueRunner hands it to gearmand,
# which queues it for a worker that never comes.
$t->insert_job(1, funcname => 'contract', arg => 'c');
my $st;
# Every child up, and the QueueRunner on its database, so that db_hosts
# has an entry (the other roles connect when their first job comes).
$t->wait_for('every child up, the QueueRunner connected', 30, sub {
	$st = $t->status_json or return 0;
	return 0 unless $st->{master}{state} eq 'running' &&
	    @{ $st->{children} } == 4;
	my ($qr) = grep { $_->{pool} eq 'queue_runner' } @{ $st->{children} };
	return $qr->{db_hosts}{1} && $st->{functions}{contract} &&
	    !grep { $_->{state} eq 'starting' } @{ $st->{children} };
}) or BAIL_OUT('the master did not come up');
# A reload, so that last_reload is an object.
kill 'HUP', $pid;
$t->wait_for('the reload in the status file', 15, sub {
	$st = $t->status_json;
	return $st && $st->{master}{generation} == 2 &&
	    ref($st->{master}{last_reload}) eq 'HASH';
}) or BAIL_OUT('no reload in the status file');

my %found = (top => $st, master => $st->{master},
    last_reload => $st->{master}{last_reload},
    function => $st->{functions}{contract},
    latency => $st->{functions}{contract}{latency});
for my $what (sort keys %doc) {
	my @objs = $what eq 'pool' ? map { $st->{pools}{$_} }
	    qw(queue_runner injector controller) :
	    $what eq 'child' ? @{ $st->{children} } : ($found{$what});
	for my $key (sort keys %{ $doc{$what} }) {
		my @missing = grep { !ref($_) || !exists $_->{$key} } @objs;
		is(scalar(@missing), 0, "$what: $key (documented) is written");
	}
}
# gvctl reads keys of every level; each must exist at some level.
my @levels = ($st, $st->{master}, $st->{master}{last_reload},
    values %{ $st->{pools} }, @{ $st->{children} });
for my $key (sort keys %gvctl) {
	ok((grep { exists $_->{$key} } @levels),
	    "$key (read by gvctl status) is written");
}

# And the other way: nothing written goes undocumented.
for my $what (qw(top master last_reload function latency)) {
	for my $key (sort keys %{ $found{$what} }) {
		ok($doc{$what}{$key}, "$what: $key (written) is documented");
	}
}
for my $key (sort keys %{ $st->{pools}{controller} }) {
	ok($doc{pool}{$key}, "pool: $key (written) is documented");
}
for my $key (sort keys %{ $st->{children}[0] }) {
	ok($doc{child}{$key}, "child: $key (written) is documented");
}

# --- the documented types and values -----------------------------------------
my $num = qr/^-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?$/;
like($st->{master}{$_}, $num, "master: $_ is a number")
    for qw(pid started uptime generation);
like($st->{master}{state}, qr/^(?:starting|running|stopping|stopped)$/,
    'master: state is one of the documented');
is($st->{master}{last_reload}{result}, 'ok', 'last_reload: result ok');
ok(!defined $st->{master}{last_reload}{error}, 'last_reload: error null');
is_deeply([sort keys %{ $st->{pools} }],
    [qw(controller injector queue_runner)], 'a pool per role');
for my $name (sort keys %{ $st->{pools} }) {
	my $p = $st->{pools}{$name};
	ok(JSON::is_bool($p->{$_}), "$name: $_ is a boolean")
	    for qw(failed crash_looping);
	is(ref($p->{$_}), 'ARRAY', "$name: $_ is a list")
	    for qw(broken_dbs unreachable_dbs);
	like($p->{$_}, $num, "$name: $_ is a number")
	    for grep { !/^(?:failed|crash_looping|broken_dbs|unreachable_dbs)$/ }
	    sort keys %{ $doc{pool} };
}
my $fn = $st->{functions}{contract};
is($fn->{dispatched}, 1, 'functions: contract dispatched once');
like($fn->{$_}, $num, "functions: $_ is a number")
    for grep { $_ ne 'latency' } sort keys %{ $doc{function} };
like($fn->{latency}{$_}, $num, "latency: $_ is a number") for qw(sum count);
is_deeply([sort keys %{ $fn->{latency}{buckets} }],
    [sort qw(0.005 0.01 0.05 0.1 0.5 1 5 10 60 300 +Inf)],
    'latency: the buckets garivini(8) names');
for my $ch (@{ $st->{children} }) {
	my $name = "$ch->{pool}/$ch->{slot}";
	like($ch->{state}, qr/^(?:starting|idle|busy|stopping)$/,
	    "$name: state is one of the documented");
	ok(!defined $ch->{job_age} || $ch->{job_age} =~ $num,
	    "$name: job_age is null or a number");
	is(ref($ch->{db_hosts}), 'HASH', "$name: db_hosts is an object");
	next unless $ch->{pool} eq 'queue_runner';
	like($ch->{db_hosts}{1}, qr/^127\.0\.0\.1:\d+$|^\//,
	    "$name: db_hosts names its database's host");
}

# gvctl reads the same file into its table.
my ($code, $out, $err) = $t->run($t->build_path('gvctl'), '-c', $ini,
    'status');
is($code, 0, 'gvctl status') or diag($err);
like($out, qr/^master\s+pid $pid, running/m, 'gvctl: the master line');
like($out, qr/^generation\s+2$/m, 'gvctl: the generation');
like($out, qr/^controller\s+2\s+2\s/m, 'gvctl: the controller pool');

is($t->stop($pid, 'TERM', 20), 0, 'the master stops');
is($t->status_json->{master}{state}, 'stopped', 'and says so last');
done_testing();
