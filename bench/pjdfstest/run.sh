#!/bin/sh
# bench/pjdfstest/run.sh: the POSIX conformance suite pjdfstest inside a persist mount (issue 9).
#
#   sh bench/pjdfstest/run.sh PJDFSTEST_DIR [direct|staged]        (as root, after npx tsc -p .)
#
# PJDFSTEST_DIR is a built checkout of https://github.com/pjd/pjdfstest (its `pjdfstest` binary
# next to `tests/`; the project does not vendor it). The mount is persist over a one-file
# squashfs lower with its upper (and stage) on a tmpfs, as in bench/fs. Runs `prove -r` on every
# test file from inside the mount and prints prove's summary: the failed files and subtests.
# Everything it mounts is unmounted on exit.
set -eu
suite=$(cd "${1:?usage: run.sh PJDFSTEST_DIR [direct|staged]}" && pwd)
mode=${2:-direct}
root=$(cd "$(dirname "$0")/../.." && pwd)
[ -x "$suite/pjdfstest" ] || { echo "pjdfstest: no $suite/pjdfstest binary; build it first" >&2; exit 2; }
work=$(mktemp -d /tmp/persist-pjdfstest-XXXXXX)
. "$root/bench/lib/persist-mount.sh"
mkdir "$work/tree"
echo "from the squashfs" >"$work/tree/README"
mksquashfs "$work/tree" "$work/lower.sqfs" -quiet -noappend
persist_mount "$work" "$work/lower.sqfs" "$mode"
cd "$MNT"
status=0
prove -r "$suite/tests" >"$work/prove.log" 2>&1 || status=$?
cd /
sed -n '/^Test Summary Report/,$p' "$work/prove.log"
tail -2 "$work/prove.log"
echo "(full log: $work/prove.log; daemon: $work/daemon.log)"
exit $status
