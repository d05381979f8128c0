#!/bin/sh
# Runs the test suite (already built by `npm test`), then removes whatever a failed or killed
# test left behind: its daemons, mounts and loop devices. Each run gets its own temp root
# (TMPDIR), so the sweep touches only this run. Exits with the suite's status.
set -u
cd "$(dirname "$0")/.."
run_dir=$(mktemp -d "${TMPDIR:-/tmp}/persist-run-XXXXXX")
chmod 755 "$run_dir" # tests reach their mounts as non-root users too
PERSIST_TEST_RUN=$(basename "$run_dir")
export PERSIST_TEST_RUN
# The VM boot test (dist/test/boot/boot.test.js) is its own command: npm run test:boot.
files=$(find dist/test -name '*.test.js' -not -path 'dist/test/boot/boot.test.js' | sort)
status=0
TMPDIR=$run_dir node --test --test-concurrency=1 --test-reporter=spec ${PERSIST_TEST_ONLY:-$files} || status=$?
sh scripts/cleanup-tests.sh "$run_dir"
exit $status
