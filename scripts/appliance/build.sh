#!/bin/sh
# Builds the demo appliance into $APPLIANCE_DIR (default build/appliance):
#   root.sqsh    the read-only root: busybox, node, persistctl and persist-button, /sbin/init
#   initrd.img   Debian's initramfs-tools image with persist's hook (initramfs/), for the kernel
#   vmlinuz      Debian's kernel (linux-image-amd64), linked
#   flash.img    a blank 64 MiB disk for the changes (made once; the first boot formats it)
# A busybox root, not a minimal Debian with systemd: it boots in seconds under QEMU's TCG (no KVM
# here), so the boot test can boot five times; systemd/ is for appliances that run systemd.
#   APPLIANCE_SCENARIOS=DIR   scripts copied to /usr/lib/appliance (appliance.run=NAME runs one)
#   APPLIANCE_PROFILES=DIR    profiles baked into the initramfs (default: config/appliance)
set -eu
cd "$(dirname "$0")/../.."
out=${APPLIANCE_DIR:-$PWD/build/appliance}
profiles=${APPLIANCE_PROFILES:-$PWD/config/appliance}
say() { echo "appliance: $*"; }
for tool in mksquashfs mkinitramfs busybox qemu-system-x86_64; do
  command -v $tool >/dev/null || { say "missing $tool: apt-get install -y \$(cat scripts/boot-packages.txt)"; exit 1; }
done
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
[ -n "$kernel" ] || { say "no kernel in /boot: apt-get install -y linux-image-amd64"; exit 1; }
kver=${kernel#/boot/vmlinuz-}

mkdir -p "$out"
say "bundling persistd and persistctl"
node scripts/bundle.mjs "$out/bundle" >/dev/null

say "building the root ($out/root.sqsh)"
root=$out/rootfs
rm -rf "$root"
mkdir -p "$root/bin" "$root/sbin" "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib/persist" "$root/usr/lib/appliance" \
  "$root/etc/persist" "$root/proc" "$root/sys" "$root/dev" "$root/run" "$root/tmp" "$root/root" "$root/var/lib" "$root/var/log" "$root/home"
cp /bin/busybox "$root/bin/busybox"
for applet in $(busybox --list); do [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"; done
cp scripts/appliance/init "$root/sbin/init"
for name in poweroff reboot; do rm -f "$root/bin/$name"; cp scripts/appliance/poweroff "$root/sbin/$name"; done
# node and its libraries, for persistctl and persist-button (persistd itself runs from the initramfs)
copy_exec() {
  mkdir -p "$root$(dirname "$2")"; cp -pL "$1" "$root$2"
  for so in $(ldd "$1" | sed -n 's/.*=> \(\/[^ ]*\).*/\1/p; s/^[[:blank:]]*\(\/[^ ]*\) (.*/\1/p'); do
    [ -e "$root$so" ] || { mkdir -p "$root$(dirname "$so")"; cp -pL "$so" "$root$so"; }
  done
}
copy_exec "$(command -v node)" /usr/bin/node
cp -a "$out/bundle/." "$root/usr/lib/persist/"
printf '#!/bin/sh\nexec /usr/bin/node /usr/lib/persist/persistctl.mjs "$@"\n' > "$root/usr/bin/persistctl"
chmod 755 "$root/usr/bin/persistctl"
if [ -f "$out/bundle/persist-button.cjs" ]; then
  printf '#!/bin/sh\nexec /usr/bin/node /usr/lib/persist/persist-button.cjs "$@"\n' > "$root/usr/bin/persist-button"
  chmod 755 "$root/usr/bin/persist-button"
fi
cp "$profiles/profile.yaml" "$root/etc/persist/profile.yaml"
printf 'export PATH=/usr/sbin:/usr/bin:/sbin:/bin\nalias poweroff=/sbin/poweroff reboot=/sbin/reboot\n' > "$root/etc/profile"
echo "factory" > "$root/etc/motd"
echo "appliance" > "$root/etc/hostname"
[ -z "${APPLIANCE_SCENARIOS:-}" ] || cp -p "$APPLIANCE_SCENARIOS"/* "$root/usr/lib/appliance/"
mksquashfs "$root" "$out/root.sqsh" -noappend -quiet -all-root -comp zstd >/dev/null

say "building the initramfs for $kver ($out/initrd.img)"
PERSIST_LIB="$out/bundle" PERSIST_PROFILES="$profiles" mkinitramfs -d initramfs -o "$out/initrd.img" "$kver"
ln -sf "$kernel" "$out/vmlinuz"
if [ ! -f "$out/flash.img" ] || [ "${APPLIANCE_FRESH_FLASH:-0}" = 1 ]; then
  rm -f "$out/flash.img"
  truncate -s 64M "$out/flash.img"
  say "a blank flash ($out/flash.img): the first boot creates its filesystem"
fi
say "done: sh scripts/appliance/run.sh boots it on this terminal (serial console)"
