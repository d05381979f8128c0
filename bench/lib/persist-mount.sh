# Sourced by the bench shell scripts (bench/fs/profile.sh, bench/pjdfstest/run.sh): one persistd
# over a squashfs image, with its upper (and stage) on a private tmpfs, and the cleanup that
# leaves nothing mounted or running, however the script ends.
#
#   persist_mount WORK IMAGE MODE [NODE_FLAG...]   (MODE direct or staged; the daemon's env is
#                                                   the caller's; sets MNT and PERSISTD_PID)
#   persist_stop                                  (SIGTERM, waits; the trap does the rest)
# Needs `root` (the repository) set by the caller.

PERSISTD_PID=
persist_work=

persist_cleanup() {
  persist_stop
  [ -n "$persist_work" ] || return 0
  mountpoint -q "$persist_work/mnt" && umount -l "$persist_work/mnt"
  mountpoint -q "$persist_work/lower" && umount "$persist_work/lower"
  mountpoint -q "$persist_work/t" && umount "$persist_work/t"
  return 0
}

persist_stop() {
  [ -n "$PERSISTD_PID" ] || return 0
  kill -TERM "$PERSISTD_PID" 2>/dev/null || true
  while kill -0 "$PERSISTD_PID" 2>/dev/null; do sleep 0.2; done
  PERSISTD_PID=
}

persist_mount() {
  persist_work=$1
  image=$2
  mode=$3
  shift 3
  trap persist_cleanup EXIT INT TERM
  mkdir -p "$persist_work/lower" "$persist_work/mnt" "$persist_work/t"
  mount -t tmpfs -o size=4g tmpfs "$persist_work/t"
  mkdir -p "$persist_work/t/upper" "$persist_work/t/work" "$persist_work/t/stage"
  mount -o loop,ro "$image" "$persist_work/lower"
  layers="--work $persist_work/t/work" # direct
  [ "$mode" = staged ] && layers="--stage $persist_work/t/stage --flush-interval 1h --min-interval 1h --max-dirty 16GiB"
  # shellcheck disable=SC2086 # $layers is several words
  node --max-semi-space-size=1 "$@" "$root/dist/src/cli/persistd.js" mount --lower "$persist_work/lower" \
    --upper "$persist_work/t/upper" $layers --no-socket "$persist_work/mnt" >"$persist_work/daemon.log" 2>&1 &
  PERSISTD_PID=$!
  tries=0
  until mountpoint -q "$persist_work/mnt"; do
    tries=$((tries + 1))
    if [ $tries -ge 100 ] || ! kill -0 "$PERSISTD_PID" 2>/dev/null; then
      cat "$persist_work/daemon.log" >&2
      exit 1
    fi
    sleep 0.2
  done
  MNT="$persist_work/mnt"
  export MNT
}
