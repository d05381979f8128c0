#!/bin/sh
# bench/fs/profile.sh: where persistd's time goes on one workload (issue 9's "profile first").
#
#   sh bench/fs/profile.sh [direct|staged] 'COMMAND using $MNT'     (as root, after npx tsc -p .)
#   e.g. sh bench/fs/profile.sh direct 'find $MNT -printf "%s %m %u\n" >/dev/null'
#
# Mounts bench/fs's cached squashfs lower (run bench/fs once first) with a tmpfs upper under
# persistd started with --cpu-prof, runs COMMAND once untimed (warm-up) and once timed under
# `strace -c -f -p DAEMON` (system calls of every daemon thread: each FUSE reply is one writev,
# each request handed to JS one eventfd write), then stops the daemon and prints: the timed run,
# the strace table, the attribute cache's counters and the CPU profile's top functions
# (dist/bench/fs/cpuprofile-summary.js). Set PERSIST_ATTR_CACHE=0 to profile without the cache.
# Everything it mounts is unmounted on exit.
set -eu
mode=$1
command=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
image=${PERSIST_BENCH_CACHE:-/var/tmp/persist-bench-fs}/lower-v1.sqfs
[ -f "$image" ] || { echo "profile: no $image; run node dist/bench/fs/run.js once first" >&2; exit 2; }
work=$(mktemp -d /tmp/persist-profile-XXXXXX)
. "$root/bench/lib/persist-mount.sh"
mkdir -p "$work/cpu"
PERSIST_ATTR_CACHE_STATS=1 persist_mount "$work" "$image" "$mode" --cpu-prof --cpu-prof-dir="$work/cpu"
pid=$PERSISTD_PID
sh -c "$command"
strace -c -f -p "$pid" -o "$work/strace.txt" 2>/dev/null &
tracer=$!
sleep 1
/usr/bin/time -f "timed run: %e s" sh -c "$command"
kill -INT "$tracer"; wait "$tracer" || true
persist_stop
head -15 "$work/strace.txt"
grep 'attribute cache' "$work/daemon.log" || true
node "$root/dist/bench/fs/cpuprofile-summary.js" "$work/cpu"
echo "(profile and logs kept in $work)"
