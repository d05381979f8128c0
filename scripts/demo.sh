#!/bin/sh
# Quick start, step 1: installs what persist needs (Debian packages, npm ci, build) and starts a
# demo appliance: the bundled sample root (config/sample-root) as a read-only squashfs, a tmpfs
# as the writable layer, served by persistd at $PERSIST_DEMO_DIR/root (default /tmp/persist-demo).
#   sh scripts/demo.sh          install if needed, then start
#   sh scripts/demo.sh stop     stop the daemon and remove the demo's mounts
set -eu
cd "$(dirname "$0")/.."
demo=${PERSIST_DEMO_DIR:-/tmp/persist-demo}

say() { printf 'demo: %s\n' "$*"; }

if [ "$(id -u)" != 0 ]; then
  say "run as root: persistd mounts FUSE, squashfs and tmpfs (sudo sh scripts/demo.sh)"
  exit 2
fi

stop() {
  if [ -f "$demo/persistd.pid" ]; then
    pid=$(cat "$demo/persistd.pid")
    if kill -TERM "$pid" 2>/dev/null; then
      say "stopping persistd ($pid)"
      while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
    fi
    rm -f "$demo/persistd.pid"
  fi
  for m in "$demo/root" "$demo/lower" "$demo/rw"; do
    mountpoint -q "$m" 2>/dev/null && umount -l "$m" && say "unmounted $m"
  done
  return 0
}

if [ "${1:-start}" = stop ]; then
  stop
  exit 0
fi

missing=""
for pkg in $(cat scripts/system-packages.txt); do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  say "installing Debian packages:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ ! -d node_modules ] || [ ! -f build/persist_native.node ]; then
  say "npm ci (also builds persist)"
  npm ci --no-audit --no-fund
fi

stop
mkdir -p "$demo/root" "$demo/lower" "$demo/rw"
say "building the read-only root from config/sample-root"
mksquashfs config/sample-root "$demo/sample-root.squashfs" -noappend -quiet -all-root >/dev/null
mount -o loop,ro -t squashfs "$demo/sample-root.squashfs" "$demo/lower"
mount -t tmpfs -o size=64m,mode=0755 persist-demo "$demo/rw"

nohup node bin/persistd.js mount --lower "$demo/lower" --upper "$demo/rw/upper" --work "$demo/rw/work" \
  "$demo/root" >"$demo/persistd.log" 2>&1 &
echo $! > "$demo/persistd.pid"
tries=0
until grep -q " $demo/root fuse.persistd " /proc/self/mounts; do
  tries=$((tries + 1))
  if [ $tries -gt 100 ] || ! kill -0 "$(cat "$demo/persistd.pid")" 2>/dev/null; then
    say "persistd did not start; its log:"
    cat "$demo/persistd.log"
    stop
    exit 1
  fi
  sleep 0.1
done

cat <<MSG
demo: persistd is serving the demo root at $demo/root
  read-only lower: $demo/lower (squashfs of config/sample-root)
  writable upper:  $demo/rw/upper (tmpfs; kernel overlayfs format)

Try:
  cat $demo/root/etc/motd
  echo 'log_level: debug' >> $demo/root/etc/app/config.yaml   # copied up on first write
  rm $demo/root/var/log/boot.log                              # leaves a whiteout in the upper
  ls -la $demo/rw/upper/etc/app $demo/rw/upper/var/log
  $demo/root/usr/bin/hello

Log: $demo/persistd.log    Stop: sh scripts/demo.sh stop
MSG
