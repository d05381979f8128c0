#!/bin/sh
# Runs the test suite (already built by `npm test`), then removes whatever a failed or killed
# test left behind: daemons, FUSE/overlay/tmpfs/squashfs mounts and loop devices under the
# tests' temp directories. Exits with the suite's status.
set -u
cd "$(dirname "$0")/.."
PERSIST_TEST_RUN="persist-test-run-$$"
export PERSIST_TEST_RUN
files=$(find dist/test -name '*.test.js' | sort)
status=0
node --test --test-concurrency=1 --test-reporter=spec ${PERSIST_TEST_ONLY:-$files} || status=$?
sh scripts/cleanup-tests.sh "$PERSIST_TEST_RUN"
exit $status
