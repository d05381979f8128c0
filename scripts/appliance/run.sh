#!/bin/sh
# Boots the demo appliance (scripts/appliance/build.sh) in QEMU on this terminal's serial
# console: TCG (no KVM here), 1 GiB. Ctrl-A X quits QEMU (a power cut: pending changes are lost).
# Extra kernel arguments: sh scripts/appliance/run.sh persist.mode=volatile
set -eu
cd "$(dirname "$0")/../.."
out=${APPLIANCE_DIR:-$PWD/build/appliance}
[ -f "$out/initrd.img" ] || sh scripts/appliance/build.sh
exec qemu-system-x86_64 -accel tcg -m 1024 -smp 1 -nographic -no-reboot \
  -kernel "$out/vmlinuz" -initrd "$out/initrd.img" \
  -append "console=ttyS0 root=/dev/vda rootfstype=squashfs ro quiet panic=-1 $*" \
  -drive file="$out/root.sqsh",format=raw,if=virtio,readonly=on \
  -drive file="$out/flash.img",format=raw,if=virtio
