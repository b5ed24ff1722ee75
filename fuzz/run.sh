#!/bin/sh
#
# fuzz/run.sh: build the libFuzzer targets (clang, ASan + UBSan) into
# build-fuzz/ and run each on its corpus in fuzz/corpus/TARGET.
#
#   fuzz/run.sh [SECONDS]       a short run (default 10 s a target), what
#                               `make fuzz` does: new inputs go to a scratch
#                               directory, the kept corpus stays as it is
#   fuzz/run.sh -k SECONDS      a long run whose finds are merged into the
#                               kept corpus (minimised: a few hundred files)
#
# A crash, a leak or a broken invariant stops the run with the input saved
# as build-fuzz/TARGET-crash-*, and the script exits 1. Without clang and
# its fuzzer runtime (Debian: clang, libclang-rt-14-dev) it fails: it never
# skips.

set -eu

cd "$(dirname "$0")/.."
keep=0
if [ "${1:-}" = "-k" ]; then
	keep=1
	shift
fi
seconds=${1:-10}
out=build-fuzz
targets="config jobjson inject"

CC=${FUZZ_CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
	echo "fuzz: $CC not found (Debian: apt-get install clang" \
	    "libclang-rt-14-dev)" >&2
	exit 1
fi
mkdir -p "$out"
flags="-g -O1 -std=c11 -D_GNU_SOURCE -fno-omit-frame-pointer
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-Isrc $(pkg-config --cflags jansson inih)"
libs="$(pkg-config --libs jansson inih)"

# The three builds at once, and the fuzzers two at a time (FUZZ_JOBS): each
# is one process on a core of its own for its SECONDS, so it makes as many
# runs as alone. What each says is printed in the order of $targets.
jobs=${FUZZ_JOBS:-2}

# shellcheck disable=SC2317 # called through each()
build() {
	t=$1
	case $t in
	config) src="src/config.c src/config_table.c src/config_same.c
	    src/config_dump.c src/log_level.c src/hostport.c src/jobjson.c
	    src/jobfield.c
	    src/cron.c src/schedule.c src/util.c" ;;
	*) src="src/jobjson.c src/jobfield.c src/util.c" ;;
	esac
	# shellcheck disable=SC2086
	$CC $flags -o "$out/fuzz_$t" "fuzz/fuzz_$t.c" $src $libs
}

# One target's run (and with -k its merge); what it says goes to
# $out/report-$t, and it exits 1 on a failure.
# shellcheck disable=SC2317 # called through each()
fuzz() {
	t=$1
	corpus=fuzz/corpus/$t
	scratch=$out/new-$t
	rm -rf "$scratch"
	mkdir -p "$scratch" "$corpus"
	case $t in
	config) max_len=8192 ;;
	*) max_len=4096 ;;
	esac
	log=$out/fuzz_$t.log
	if "$out/fuzz_$t" "$scratch" "$corpus" -dict="fuzz/$t.dict" \
	    -max_total_time="$seconds" -max_len=$max_len -timeout=10 \
	    -rss_limit_mb=2048 -artifact_prefix="$out/$t-" \
	    -print_final_stats=1 >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "fuzz_$t: ${runs:-?} runs in $seconds s, no failure" \
		    "($(ls "$scratch" | wc -l) new inputs)"
	else
		echo "fuzz_$t: FAILED, see $log:"
		grep -A20 -m1 'ERROR\|==ABORTING\|deadly signal' "$log" || \
		    tail -20 "$log"
		return 1
	fi
	if [ $keep = 1 ]; then
		# Only the inputs that add coverage are kept.
		merged=$out/merged-$t
		rm -rf "$merged"
		mkdir -p "$merged"
		"$out/fuzz_$t" -merge=1 "$merged" "$corpus" "$scratch" \
		    -max_len=$max_len >"$out/merge_$t.log" 2>&1
		rm -rf "$corpus"
		mv "$merged" "$corpus"
		echo "fuzz_$t: corpus now $(ls "$corpus" | wc -l) files"
	fi
}

# Runs "$1 TARGET" for every target, $2 at a time, each in the background
# with its output in $out/report-TARGET; exits 1 if any failed.
each() {
	what=$1
	n=$2
	st=0
	pids=
	running=0
	for t in $targets; do
		( "$what" "$t" >"$out/report-$t" 2>&1 ) &
		pids="$pids $!"
		running=$((running + 1))
		if [ $running -ge "$n" ]; then
			for p in $pids; do
				wait "$p" || st=1
			done
			pids=
			running=0
		fi
	done
	for p in $pids; do
		wait "$p" || st=1
	done
	return $st
}

status=0
if ! each build 3; then
	cat "$out"/report-* >&2
	echo "fuzz: a build failed" >&2
	exit 1
fi
each fuzz "$jobs" || status=1
for t in $targets; do
	if grep -q "^fuzz_$t: FAILED" "$out/report-$t"; then
		cat "$out/report-$t" >&2
	else
		cat "$out/report-$t"
	fi
done
exit $status
