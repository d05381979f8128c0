#!/bin/sh
# Safety net after a test run: kill processes of that run (marked by PERSIST_TEST_RUN in their
# environment), abort and unmount FUSE mounts, unmount anything under the tests' temp dirs
# (deepest first) and detach their loop devices. Quiet when there is nothing to do.
set -u
run=${1:-}
tmp=${TMPDIR:-/tmp}

# Without a run id (CI's final sweep), every test run's processes go.
pattern="PERSIST_TEST_RUN=${run:-.*}"
for env in /proc/[0-9]*/environ; do
  pid=${env#/proc/}; pid=${pid%/environ}
  [ "$pid" = "$$" ] && continue
  if tr '\0' '\n' < "$env" 2>/dev/null | grep -qx "$pattern"; then
    kill -KILL "$pid" 2>/dev/null && echo "cleanup: killed leftover process $pid"
  fi
done

# Mounts under the tests' temp dirs, deepest first. FUSE ones are aborted first so that a dead
# or stuck daemon cannot hang the unmount.
awk -v pfx="$tmp/persist-test-" 'index($5, pfx) == 1 { print length($5), $3, $5, $9 }' /proc/self/mountinfo |
  sort -rn | while read -r _ dev target fstype; do
    case $fstype in fuse*) echo 1 > "/sys/fs/fuse/connections/${dev#*:}/abort" 2>/dev/null ;; esac
    umount -l "$target" 2>/dev/null && echo "cleanup: unmounted $target"
  done

losetup -ln -O NAME,BACK-FILE 2>/dev/null | while read -r dev file; do
  case $file in "$tmp"/persist-test-*) losetup -d "$dev" && echo "cleanup: detached $dev ($file)" ;; esac
done
exit 0
