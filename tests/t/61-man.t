#!/usr/bin/perl
# The manual pages: every page in man/ renders with groff -man -ww (every
# warning on) without a word on stderr, `man -l` prints it with its NAME
# section, its .TH matches its file name, and the pages it refers to among
# Garivini's own exist. Needs groff-base and man-db (scripts/setup.sh).
use strict;
use warnings;
use Test::More;
use GvTest;

my $t = GvTest->new(dbs => 0, gearmands => 0);
my $mandir = $t->repo_dir . '/man';
my @pages = sort glob("$mandir/*.[1-8]");
my %want = map { $_ => 1 } qw(garivini.8 garivini.ini.5 gvctl.1 gv_inject.1
    gv_consume.1 libgarivini.3);
is_deeply([map { m{([^/]+)$} } @pages], [sort keys %want],
    'the six manual pages are there');

sub program {
	my ($name) = @_;
	for my $d (split(/:/, $ENV{PATH} // ''), '/usr/bin', '/bin') {
		return "$d/$name" if $d ne '' && -x "$d/$name";
	}
	return undef;
}
my $groff = program('groff');
my $man = program('man');
ok($groff, 'groff is installed (Debian groff-base)')
    or BAIL_OUT('groff missing: run scripts/setup.sh');
ok($man, 'man is installed (Debian man-db)')
    or BAIL_OUT('man missing: run scripts/setup.sh');

my %env = (MANWIDTH => 80, MANPAGER => 'cat', PAGER => 'cat',
    MAN_KEEP_FORMATTING => undef, LC_ALL => 'C.UTF-8');
for my $page (@pages) {
	my ($file) = $page =~ m{([^/]+)$};
	my ($name, $section) = $file =~ /^(.+)\.(\d)$/;

	my ($code, $out, $err) = $t->run({ env => \%env }, $groff, '-man',
	    '-ww', '-z', $page);
	is($code, 0, "$file: groff -man -ww -z exits 0");
	is($err, '', "$file: no groff warning") or diag($err);

	for my $width (80, 60) {
		($code, $out, $err) = $t->run({ env => { %env,
		    MANWIDTH => $width } }, $man, '-l', $page);
		is($code, 0, "$file: man -l exits 0 at $width columns");
		is($err, '', "$file: no warning at $width columns")
		    or diag($err);
	}
	($code, $out, $err) = $t->run({ env => \%env }, $man, '-l', $page);
	$out =~ s/.\x08//g;     # overstrike bold and underline, if any
	like($out, qr/^NAME\n\s+\Q$name\E +- +\S/m,
	    "$file: man -l prints its NAME section");

	open(my $fh, '<', $page) or die "$page: $!";
	my $text = do { local $/; <$fh> };
	close $fh;
	like($text, qr/^\.TH \Q\U$name\E $section /m,
	    "$file: .TH names it, section $section");
	my @refs = $text =~ /^\.BR (garivini|garivini\.ini|gvctl|gv_inject|gv_consume|libgarivini) \((\d)\)/mg;
	while (my ($ref, $sec) = splice(@refs, 0, 2)) {
		ok(-f "$mandir/$ref.$sec", "$file: $ref($sec) exists");
	}
}

done_testing;
