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
pid=
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
  mountpoint -q "$work/mnt" && umount -l "$work/mnt"
  mountpoint -q "$work/t" && umount "$work/t"
  mountpoint -q "$work/lower" && umount "$work/lower"
  return 0
}
trap cleanup EXIT INT TERM
mkdir -p "$work/lower" "$work/t" "$work/mnt" "$work/cpu"
mount -o loop,ro "$image" "$work/lower"
mount -t tmpfs -o size=4g tmpfs "$work/t"
mkdir -p "$work/t/upper" "$work/t/work" "$work/t/stage"
staged=""
[ "$mode" = staged ] && staged="--stage $work/t/stage --flush-interval 1h --min-interval 1h --max-dirty 16GiB"
# shellcheck disable=SC2086 # $staged is several words
PERSIST_ATTR_CACHE_STATS=1 node --max-semi-space-size=1 --cpu-prof --cpu-prof-dir="$work/cpu" "$root/dist/src/cli/persistd.js" mount \
  --lower "$work/lower" --upper "$work/t/upper" --work "$work/t/work" $staged --no-socket "$work/mnt" >"$work/daemon.log" 2>&1 &
pid=$!
tries=0
until mountpoint -q "$work/mnt"; do
  tries=$((tries + 1)); [ $tries -lt 100 ] || { cat "$work/daemon.log" >&2; exit 1; }
  sleep 0.2
done
export MNT="$work/mnt"
sh -c "$command"
strace -c -f -p "$pid" -o "$work/strace.txt" 2>/dev/null &
tracer=$!
sleep 1
/usr/bin/time -f "timed run: %e s" sh -c "$command"
kill -INT "$tracer"; wait "$tracer" || true
kill -TERM "$pid"; while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done; pid=
head -15 "$work/strace.txt"
grep 'attribute cache' "$work/daemon.log" || true
node "$root/dist/bench/fs/cpuprofile-summary.js" "$work/cpu"
echo "(profile and logs kept in $work)"
