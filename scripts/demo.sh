#!/bin/sh
# Quick start, step 1: installs what persist needs (Debian packages, npm ci, build) and starts a
# demo appliance in staged mode: the bundled sample root (config/sample-root) as a read-only
# squashfs, a RAM stage on tmpfs, and an ext4 "flash" (an image file on a loop device) that
# changes reach in batched, crash-safe flushes. persistd serves it at $PERSIST_DEMO_DIR/root
# (default /tmp/persist-demo/root) with its control socket at /run/persist/control.sock, and
# persistd and persistctl are linked into /usr/local/bin.
#   sh scripts/demo.sh          install if needed, then start (the flash image is kept across runs)
#   sh scripts/demo.sh stop     stop the daemon (it flushes first) and remove the demo's mounts
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
  for m in "$demo/root" "$demo/lower" "$demo/stage" "$demo/flash"; do
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
ln -sf "$PWD/bin/persistd.js" /usr/local/bin/persistd
ln -sf "$PWD/bin/persistctl.js" /usr/local/bin/persistctl
mkdir -p "$demo/root" "$demo/lower" "$demo/stage" "$demo/flash"
say "building the read-only root from config/sample-root"
mksquashfs config/sample-root "$demo/sample-root.squashfs" -noappend -quiet -all-root >/dev/null
mount -o loop,ro -t squashfs "$demo/sample-root.squashfs" "$demo/lower"
mount -t tmpfs -o size=64m,mode=0755 persist-stage "$demo/stage"
if [ ! -f "$demo/flash.img" ]; then
  say "making the flash: a 64 MiB ext4 image ($demo/flash.img)"
  truncate -s 64M "$demo/flash.img"
  mkfs.ext4 -q -F -m 0 -L persist-demo "$demo/flash.img"
fi
mount -o loop,noatime -t ext4 "$demo/flash.img" "$demo/flash"

nohup persistd mount --lower "$demo/lower" --upper "$demo/flash/upper" --stage "$demo/stage" \
  --flush-interval 5m --socket /run/persist/control.sock "$demo/root" >"$demo/persistd.log" 2>&1 &
echo $! > "$demo/persistd.pid"
tries=0
until grep -q "persistd: control socket" "$demo/persistd.log" 2>/dev/null; do
  tries=$((tries + 1))
  if [ $tries -gt 150 ] || ! kill -0 "$(cat "$demo/persistd.pid")" 2>/dev/null; then
    say "persistd did not start; its log:"
    cat "$demo/persistd.log"
    stop
    exit 1
  fi
  sleep 0.1
done

cat <<MSG
demo: persistd is serving the demo root at $demo/root (staged mode)
  read-only lower: $demo/lower (squashfs of config/sample-root)
  RAM stage:       $demo/stage (tmpfs: every write lands here first)
  flash:           $demo/flash/upper (ext4 on $demo/flash.img; kernel overlayfs format)
  flushes:         every 5 minutes, or now with persistctl commit

Change something, then look at it with persistctl:
  echo 'log_level: debug' >> $demo/root/etc/app/config.yaml
  rm $demo/root/var/log/boot.log
  echo hello > $demo/root/home/operator/note
  persistctl                      # the terminal UI: j/k move, Enter diff, space mark, c commit, ? help
  persistctl changes              # what changed, pending in RAM or persisted on the flash
  persistctl diff /etc/app/config.yaml
  persistctl commit /etc/app/config.yaml   # just this file to the flash; ls $demo/flash/upper/etc/app
  persistctl discard /home/operator/note   # drop a change that is still only in RAM
  persistctl revert /var/log/boot.log      # back to the factory version
  persistctl status; persistctl top

Log: $demo/persistd.log    Stop: sh scripts/demo.sh stop (flushes first; the flash image stays)
MSG
