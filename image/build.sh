#!/bin/bash
# image/build.sh OUTDIR: the l3afd appliance (docs/image.md).
#
# Writes to OUTDIR:
#   l3af.img     raw GPT disk: an EFI system partition (systemd-boot, kernel,
#                initrd) and an ext4 root; boots on UEFI machines
#   vmlinuz      the kernel and
#   initrd.img   its initramfs, for `qemu -kernel -initrd -append "$(cat cmdline)"`
#   cmdline      the kernel command line the boot loader uses
#   manifest     what went in: versions, cache key, sizes
#
# The Debian part (image/base.sh) is cached in $L3AF_IMAGE_CACHE (default
# /var/cache/l3af-image), keyed by image/packages, image/overlay, base.sh and
# the mirror; only l3afd and its units are added on each build. An OUTDIR
# whose inputs did not change is left as it is. Runs as root: chroot, and
# file ownership in the root file system; no loop device, no mount of the
# image.
#
# Environment: L3AF_MIRROR (default http://deb.debian.org/debian),
# L3AF_IMAGE_CACHE, L3AF_BUILD_DIR (meson build dir, default build-image).
set -euo pipefail

here="$(dirname "$(readlink -f "$0")")"
repo="$(dirname "$here")"
mirror="${L3AF_MIRROR:-http://deb.debian.org/debian}"
cache="${L3AF_IMAGE_CACHE:-/var/cache/l3af-image}"
builddir="${L3AF_BUILD_DIR:-$repo/build-image}"

log() { printf 'image: %s\n' "$*" >&2; }
die() {
	printf 'image: %s\n' "$*" >&2
	exit 1
}

[ $# -eq 1 ] || die "usage: image/build.sh OUTDIR"
[ "$(id -u)" -eq 0 ] || die "must run as root (chroot, root-owned files)"
for tool in debootstrap mkfs.ext4 mkfs.vfat mmd mcopy sfdisk meson ninja zstd dpkg-query; do
	command -v "$tool" >/dev/null || die "$tool not found (scripts/setup.sh installs it)"
done
out="$(mkdir -p "$1" && cd "$1" && pwd)"

# 1. l3afd, installed into a staging tree exactly as a package would.
if [ ! -f "$builddir/build.ninja" ]; then
	log "meson setup $builddir"
	meson setup "$builddir" "$repo" --prefix=/usr --sysconfdir=/etc --localstatedir=/var >&2
fi
log "building l3afd"
# l3afd and everything meson installs beside it (the example programs).
ninja -C "$builddir" src/cli/l3afd bpf/examples/xdp_ratelimit.bpf.o bpf/examples/tc_counter.bpf.o >&2
work="$out/.work"
# --one-file-system: never into a chroot's mounts, should one be left.
remove_work() { rm -rf --one-file-system "$work"; }
remove_work
mkdir -p "$work"
trap remove_work EXIT
meson install -C "$builddir" --no-rebuild --strip --destdir "$work/stage" >/dev/null

# 2. The Debian base, from the cache or built now. Its packages: the list in
# image/packages and those holding the libraries l3afd links, taken from the
# suite the build host has them from (so libbpf comes from backports).
lib_packages() {
	local lib real pkg
	ldd "$builddir/src/cli/l3afd" | awk '/=> \// { print $3 }' | while read -r lib; do
		real="$(readlink -f "$lib")"
		real="${real#/usr}"
		pkg="$(dpkg -S "/usr$real" 2>/dev/null || dpkg -S "$real" 2>/dev/null)" ||
			die "no Debian package holds $lib (l3afd must link packaged libraries only)"
		pkg="${pkg%%:*}"
		case "$(dpkg-query -W -f '${Version}' "$pkg")" in
		*bpo*) echo "$pkg/bookworm-backports" ;;
		*) echo "$pkg" ;;
		esac
	done | sort -u
}
{
	sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$here/packages"
	lib_packages
} >"$work/packages"
base_key="$(
	{
		cat "$work/packages" "$here/base.sh"
		tar -C "$here/overlay" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - .
		echo "$mirror"
	} | sha256sum | cut -c1-16
)"
base_tar="$cache/base-$base_key.tar.zst"
if [ ! -f "$base_tar" ]; then
	log "base $base_key not cached: building it (a few minutes)"
	mkdir -p "$cache"
	"$here/base.sh" "$work/base" "$mirror" "$cache" "$work/packages"
	tar -C "$work/base" --numeric-owner --xattrs -cf - . | zstd -q -T0 -o "$base_tar.tmp"
	mv "$base_tar.tmp" "$base_tar"
	rm -rf --one-file-system "$work/base"
	# Older bases are never used again.
	find "$cache" -maxdepth 1 -name 'base-*.tar.zst' -not -name "base-$base_key.tar.zst" -delete
fi

# Up to date? The inputs: the base, what l3afd installs, and this recipe.
image_key="$(
	{
		echo "$base_key"
		(cd "$work/stage" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
		cat "$here/build.sh"
	} | sha256sum | cut -c1-16
)"
if [ -f "$out/manifest" ] && grep -qx "image_key=$image_key" "$out/manifest" &&
	[ -f "$out/l3af.img" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ]; then
	log "$out is up to date ($image_key)"
	exit 0
fi
rm -f "$out/manifest"

# 3. The root file system: base + l3afd + its units enabled.
log "assembling the root file system"
root="$work/root"
mkdir -p "$root"
zstd -q -d -c "$base_tar" | tar -C "$root" --numeric-owner --xattrs -xf -
cp -a "$work/stage/." "$root/"
chmod 0755 "$root/etc/l3af"
systemctl --root="$root" enable l3afd.service l3afd.path systemd-networkd.service \
	systemd-timesyncd.service >/dev/null 2>&1

kver="$(basename "$(ls -d "$root"/lib/modules/* | sort -V | tail -n1)")"
root_uuid="$(cat /proc/sys/kernel/random/uuid)"
esp_uuid="$(cat /proc/sys/kernel/random/uuid)"
disk_uuid="$(cat /proc/sys/kernel/random/uuid)"
cmdline="root=PARTUUID=$root_uuid ro net.ifnames=0 console=tty0 console=ttyS0,115200 quiet"
cat >"$root/etc/fstab" <<EOF
# <file system>              <mount point>  <type>  <options>          <dump> <pass>
PARTUUID=$root_uuid  /              ext4    defaults,noatime   0      1
EOF
echo "$cmdline" >"$root/etc/kernel/cmdline"
cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$work/initrd.img"
cp "$root/usr/lib/systemd/boot/efi/systemd-bootx64.efi" "$work/systemd-bootx64.efi"
# The kernel and initrd boot from the ESP; /boot keeps the config only.
rm -f "$root/boot/vmlinuz-$kver" "$root/boot/initrd.img-$kver" "$root"/vmlinuz* "$root"/initrd.img*
chroot "$root" /usr/sbin/l3afd --help >/dev/null || die "l3afd does not run in the image (a library missing?)"
l3afd_version="$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)"

# 4. Partitions as files, then the GPT disk around them. Sizes in MiB.
used_mib=$(($(du -s --block-size=1M "$root" | cut -f1)))
root_mib=$(((used_mib * 3 / 2 + 255) / 256 * 256)) # half again free, in 256 MiB steps
esp_mib=64
log "ext4 root: ${used_mib} MiB used, ${root_mib} MiB file system"
truncate -s "${root_mib}M" "$work/root.img"
mkfs.ext4 -q -L l3af-root -U "$(cat /proc/sys/kernel/random/uuid)" -d "$root" \
	-E lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0 "$work/root.img"

log "EFI system partition: systemd-boot"
truncate -s "${esp_mib}M" "$work/esp.img"
mkfs.vfat -F 32 -n L3AF-ESP "$work/esp.img" >/dev/null
cat >"$work/loader.conf" <<'EOF'
default l3af.conf
timeout 0
EOF
cat >"$work/l3af.conf" <<EOF
title   l3af appliance ($kver)
linux   /l3af/vmlinuz
initrd  /l3af/initrd.img
options $cmdline
EOF
export MTOOLS_SKIP_CHECK=1
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT ::/EFI/systemd ::/loader ::/loader/entries ::/l3af
mcopy -i "$work/esp.img" "$work/systemd-bootx64.efi" ::/EFI/BOOT/BOOTX64.EFI
mcopy -i "$work/esp.img" "$work/systemd-bootx64.efi" ::/EFI/systemd/systemd-bootx64.efi
mcopy -i "$work/esp.img" "$work/loader.conf" ::/loader/loader.conf
mcopy -i "$work/esp.img" "$work/l3af.conf" ::/loader/entries/l3af.conf
mcopy -i "$work/esp.img" "$work/vmlinuz" ::/l3af/vmlinuz
mcopy -i "$work/esp.img" "$work/initrd.img" ::/l3af/initrd.img

log "GPT disk"
disk="$work/l3af.img"
truncate -s "$((1 + esp_mib + root_mib + 1))M" "$disk"
# Types: EFI system; Linux root (x86-64) from the Discoverable Partitions
# Specification, so that systemd tools recognise the root.
sfdisk -q --no-reread --no-tell-kernel "$disk" <<EOF
label: gpt
label-id: $disk_uuid
first-lba: 2048
start=1MiB, size=${esp_mib}MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=$esp_uuid, name=esp
start=$((1 + esp_mib))MiB, size=${root_mib}MiB, type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, uuid=$root_uuid, name=root
EOF
dd if="$work/esp.img" of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$work/root.img" of="$disk" bs=1M seek=$((1 + esp_mib)) conv=notrunc,sparse status=none

mv "$disk" "$out/l3af.img"
mv "$work/vmlinuz" "$out/vmlinuz"
mv "$work/initrd.img" "$out/initrd.img"
echo "$cmdline" >"$out/cmdline"
allocated="$(du -k "$out/l3af.img" | cut -f1)"
cat >"$out/manifest" <<EOF
image_key=$image_key
base_key=$base_key
kernel=$kver
l3afd=$l3afd_version
root_partuuid=$root_uuid
disk_mib=$((1 + esp_mib + root_mib + 1))
allocated_kib=$allocated
built=$(date -u +%Y-%m-%dT%H:%M:%SZ)
EOF
log "done: $out/l3af.img ($((1 + esp_mib + root_mib + 1)) MiB disk, $((allocated / 1024)) MiB allocated), kernel $kver"
