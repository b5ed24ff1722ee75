#!/usr/bin/perl
# garivini.ini mutated at random, a few hundred times: `garivini -t -v`
# never crashes (it exits 0 with "configuration OK", or 78 with errors), and
# every error it prints names the file and the line, except the one error
# about the file as a whole (no [db.N] section at all).
#
# Mutations of the sample garivini.ini:
# bytes flipped, lines deleted, doubled, swapped, indented, cut, headers
# broken, values replaced by numbers out of every range, very long lines,
# NUL bytes, CRs, a BOM, random keys and sections.
# GV_FAULTS_SEED=N repeats a run; GV_INI_MUTATIONS=N changes how many.
use strict;
use warnings;
use POSIX ();
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 0, gearmands => 0);
my $bin = $t->build_path('garivini');
# -t only parses: the sample as it is will do.
my $base = $t->repo_dir . '/garivini.ini';
open(my $fh, '<', $base) or die "$base: $!";
my @base = <$fh>;
close $fh;
my ($code, $out, $err) = $t->run($bin, '-t', '-c', $base);
is($code, 0, 'the sample is valid') or diag($err);

my $seed = $ENV{GV_FAULTS_SEED} // time;
my $n = $ENV{GV_INI_MUTATIONS} // 300;
srand($seed);
note("GV_FAULTS_SEED=$seed");

my @values = ('-1', '0', '1e999', 'nan', 'inf', '0x10', '', ' ',
    '99999999999999999999', '4294967296', '-0', '1.5.5', '1,5', '+7',
    "\x{00}", 'x' x 3000, '[db.1]', '=', ';', '#', '"quoted"', '127.0.0.1:0',
    '127.0.0.1:65536', '[::1', ':4730', ', ,', 'db.0', "caf\xc3\xa9",
    "\xff\xfe", 'info debug');
my @words = qw(garivini db.1 db.2 db.0 db.65536 db.-1 db. queue_runner
    injector controller processes lease_seconds password host port database
    socket unknown user pidfile log_level gearman_servers);

sub rbytes { join('', map { chr(int(rand(256))) } 1 .. $_[0]) }

# garivini -t -v -c FILE: (exit code, 128 + signal, or undef on a timeout;
# stdout; stderr). Waits for the exit itself: $t->run polls, and a few
# hundred runs add up.
sub check {
	my ($path) = @_;
	my ($o, $e) = map { $t->dir . "/check.$_" } qw(out err);
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>', $o);
		open(STDERR, '>', $e);
		exec($bin, '-t', '-v', '-c', $path) or POSIX::_exit(127);
	}
	my $timed_out = 0;
	local $SIG{ALRM} = sub { $timed_out = 1; kill 'KILL', $pid };
	alarm 20;
	waitpid($pid, 0);
	alarm 0;
	my $status = $?;
	my @r = map { local $/; open(my $f, '<', $_) or return ''; <$f> // '' }
	    $o, $e;
	return (undef, @r) if $timed_out;
	return (($status & 127) ? 128 + ($status & 127) : $status >> 8, @r);
}

sub mutate {
	my @l = @base;
	for (1 .. 1 + int(rand(3))) {
		my $i = int(rand(@l || 1));
		my $op = int(rand(14));
		if ($op == 0 && @l) {           # flip a byte
			my $s = $l[$i];
			substr($s, int(rand(length $s)), 1) = chr(int(rand(256)))
			    if length $s;
			$l[$i] = $s;
		} elsif ($op == 1 && @l) {      # delete a line
			splice(@l, $i, 1);
		} elsif ($op == 2 && @l) {      # double it
			splice(@l, $i, 0, $l[$i]);
		} elsif ($op == 3 && @l) {      # swap two lines
			my $j = int(rand(@l));
			@l[$i, $j] = @l[$j, $i];
		} elsif ($op == 4 && @l) {      # indent it
			$l[$i] = (' ' x (1 + int(rand(4)))) . $l[$i];
		} elsif ($op == 5) {            # cut the file
			my $text = join('', @l);
			return substr($text, 0, int(rand(length($text) + 1)));
		} elsif ($op == 6) {            # a value replaced
			my @kv = grep { $l[$_] =~ /^\w+\s*=/ } 0 .. $#l;
			my $k = $kv[int(rand(@kv))] // next;
			$l[$k] =~ s/=.*/'= ' . $values[int(rand(@values))]/se;
			$l[$k] .= "\n";
		} elsif ($op == 7) {            # random bytes inserted
			splice(@l, $i, 0, rbytes(1 + int(rand(40))) . "\n");
		} elsif ($op == 8) {            # a long line
			splice(@l, $i, 0, 'status_interval = ' . ('9' x (150
			    + int(rand(400)))) . "\n");
		} elsif ($op == 9 && @l) {      # a header broken
			my @h = grep { $l[$_] =~ /^\[/ } 0 .. $#l;
			my $k = $h[int(rand(@h))] // next;
			$l[$k] =~ s/\]/int(rand(2)) ? '' : ']]'/e;
		} elsif ($op == 10) {           # a random section or key
			my $w = $words[int(rand(@words))];
			splice(@l, $i, 0, int(rand(2)) ? "[$w]\n" :
			    "$w = " . $values[int(rand(@values))] . "\n");
		} elsif ($op == 11 && @l) {     # CRs and NULs
			$l[$i] =~ s/\n/int(rand(2)) ? "\r\n" : "\0\n"/e;
		} elsif ($op == 12) {           # a BOM
			splice(@l, $i, 0, "\xef\xbb\xbf");
		} elsif ($op == 13 && @l) {     # a header renamed
			my @h = grep { $l[$_] =~ /^\[/ } 0 .. $#l;
			my $k = $h[int(rand(@h))] // next;
			$l[$k] = '[' . $words[int(rand(@words))] . "]\n";
		}
	}
	return join('', @l);
}

my ($good, $bad, @crashed, @unnamed) = (0, 0);
my $file = $t->dir . '/mutated.ini';
for my $k (1 .. $n) {
	my $text = mutate();
	open(my $o, '>', $file) or die "$file: $!";
	binmode $o;
	print {$o} $text;
	close $o;
	chmod 0600, $file;
	my ($rc, $stdout, $stderr) = check($file);
	if (!defined $rc || ($rc != 0 && $rc != 78)) {
		my $keep = $t->dir . "/crash-$k.ini";
		rename $file, $keep;
		push @crashed, "$keep: exit " . ($rc // 'timeout');
		next;
	}
	if ($rc == 0) {
		$good++;
		push @crashed, "mutation $k: exit 0 without 'configuration OK'"
		    unless $stdout =~ /^configuration OK$/m;
		next;
	}
	$bad++;
	my @errors = grep { /\S/ && !/^\.\.\. more errors$/ } split /\n/,
	    $stderr;
	my $lines = grep { /^\Q$file\E:\d+: / } @errors;
	my @other = grep { !/^\Q$file\E:\d+: / } @errors;
	# The one error about the whole file: no database at all.
	my @odd = grep { !/^\Q$file\E: no database configured/ } @other;
	if (!@errors || @odd || !$lines && !@other) {
		my $keep = $t->dir . "/unnamed-$k.ini";
		rename $file, $keep;
		push @unnamed, "$keep: " . join(' | ', @odd ? @odd : @errors);
	}
}
note("$n mutations: $good accepted, $bad rejected");
is(scalar(@crashed), 0, "garivini -t never crashed in $n runs")
    or diag(join("\n", @crashed));
is(scalar(@unnamed), 0, 'every rejection names the file and the line')
    or diag(join("\n", @unnamed[0 .. ($#unnamed > 9 ? 9 : $#unnamed)]));
cmp_ok($bad, '>', $n / 2, 'most mutations are rejected');
cmp_ok($good, '>', 0, 'some are harmless (comments) and accepted');
done_testing();
