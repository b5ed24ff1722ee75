#!/usr/bin/perl
# The C client library fed names it cannot store as they are: a funcname or
# unique key that is not UTF-8 is refused (the utf8mb4 columns would store
# it mangled, '?' for each bad byte, and the job would be acknowledged under
# a name no worker serves). Names full of quotes and SQL are stored byte for
# byte and run under their own name.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 1);
my $ini = $t->write_ini('queue_runner.lease_seconds' => 10);
my $inject = $t->build_path('gv_inject');

for my $case (["bad\xff\xfename", undef, 'a 0xFF byte'],
    ["over\xc0\xaflong", undef, 'an overlong sequence'],
    ["sur\xed\xa0\x80rogate", undef, 'a surrogate'],
    ["cut\xe2\x82", undef, 'a cut sequence'],
    ['good', "key\xff", 'a unique key with a 0xFF byte']) {
	my ($func, $key, $what) = @$case;
	my ($code, undef, $err) = $t->run($inject, '-c', $ini, '-f', $func,
	    '-a', 'x', defined $key ? ('-u', $key) : ());
	is($code, 1, "$what: refused");
	like($err, qr/(funcname|uniqkey) is not valid UTF-8/, "$what: says why");
	is($t->count(1), 0, "$what: nothing stored");
}

my $runner = $t->spawn($t->build_path('garivini'), '--role', 'queue_runner',
    '-c', $ini);
for my $func ("it's", "x'; DROP TABLE job; --", 'back\\slash', "caf\xc3\xa9",
    "emoji \xf0\x9f\x98\x80") {
	my ($code, undef, $err) = $t->run($inject, '-c', $ini, '-f', $func,
	    '-a', 'odd', '-u', $func, '-d', 1);
	is($code, 0, 'funcname ' . unpack('H*', $func) . ': stored')
	    or diag($err);
	is($t->dbh(1)->selectrow_array('SELECT COUNT(*) FROM job WHERE '
	    . 'HEX(funcname) = ? AND HEX(uniqkey) = ?', undef,
	    uc(unpack('H*', $func)), uc(unpack('H*', $func))), 1,
	    'byte for byte');
	my $w = $t->spawn($t->build_path('gv_consume'), '-c', $ini, '-f', $func,
	    '-n', 1, '-o', $t->dir . '/ran-' . unpack('H*', $func));
	is($t->wait_exit($w, 20), 0, 'and run under its own name');
}
ok($t->wait_for('the table to drain', 20, sub { $t->count(1) == 0 }),
    'every row completed');
$t->stop($runner, 'TERM', 10);
done_testing();
