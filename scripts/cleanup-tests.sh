#!/bin/sh
# Safety net after test runs: kill their processes (marked by PERSIST_TEST_RUN in the
# environment), abort and unmount every mount under their temp roots (deepest first), detach
# loop devices backed by files there, and remove the roots.
#   cleanup-tests.sh RUN_DIR   one run (scripts/test.sh)
#   cleanup-tests.sh           every run (CI's final sweep)
set -u
tmp=${TMPDIR:-/tmp}
if [ $# -gt 0 ]; then roots=$1; else roots=$(ls -d "$tmp"/persist-run-* 2>/dev/null); fi

for root in $roots; do
  run=$(basename "$root")
  for env in /proc/[0-9]*/environ; do
    pid=${env#/proc/}; pid=${pid%/environ}
    [ "$pid" = "$$" ] && continue
    if { tr "\\0" "\\n" < "$env"; } 2>/dev/null | grep -qx "PERSIST_TEST_RUN=$run"; then
      kill -KILL "$pid" 2>/dev/null && echo "cleanup: killed leftover process $pid"
    fi
  done

  # FUSE connections are aborted first so that a dead or stuck daemon cannot hang the unmount.
  awk -v pfx="$root/" 'index($5, pfx) == 1 { print length($5), $3, $5, $9 }' /proc/self/mountinfo |
    sort -rn | while read -r _ dev target fstype; do
      case $fstype in fuse*) echo 1 > "/sys/fs/fuse/connections/${dev#*:}/abort" 2>/dev/null ;; esac
      umount -l "$target" 2>/dev/null && echo "cleanup: unmounted $target"
    done

  losetup -ln -O NAME,BACK-FILE 2>/dev/null | while read -r dev file; do
    case $file in "$root"/*) losetup -d "$dev" && echo "cleanup: detached $dev ($file)" ;; esac
  done

  # Only once nothing is mounted inside: a recursive delete must never cross into a mount.
  if ! awk -v pfx="$root/" 'index($5, pfx) == 1 { found = 1 } END { exit !found }' /proc/self/mountinfo; then
    rm -rf "$root"
  fi
done
exit 0
