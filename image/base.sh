#!/bin/bash
# image/base.sh ROOT MIRROR CACHE PACKAGES: the appliance's base root file
# system in ROOT: Debian bookworm (minbase) with its updates, the packages
# listed in the file PACKAGES (image/packages and l3afd's libraries, see
# build.sh; `name/suite` for backports), the files of image/overlay, kernel
# modules pruned to what an appliance uses, and an initramfs. Nothing of l3afd yet: build.sh adds it on a copy of this tree.
# CACHE keeps downloaded .debs between runs. Runs as root; uses chroot and
# needs no loop device.
set -euo pipefail

here="$(dirname "$(readlink -f "$0")")"
root="$1"
mirror="$2"
cache="$3"
package_list="$4"

log() { printf 'base: %s\n' "$*" >&2; }

mounted=()
cleanup() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount -l "${mounted[i]}" 2>/dev/null || true
	done
}
trap cleanup EXIT

mkdir -p "$cache/debs" "$cache/apt-archives/partial"

log "debootstrap bookworm (minbase) from $mirror"
debootstrap --variant=minbase --cache-dir="$cache/debs" bookworm "$root" "$mirror" >&2

# Configuration first: dpkg's excludes and initramfs-tools' settings must be
# in place before the packages (and the kernel's initramfs) are installed.
cp -a "$here/overlay/." "$root/"
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
# No service starts inside the chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

for m in proc sys dev var/cache/apt/archives; do
	case "$m" in
	proc) mount -t proc proc "$root/proc" ;;
	sys) mount -t sysfs sysfs "$root/sys" ;;
	dev) mount --bind /dev "$root/dev" ;;
	var/cache/apt/archives) mount --bind "$cache/apt-archives" "$root/$m" ;;
	esac
	mounted+=("$root/$m")
done

mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$package_list")
in_root() { chroot "$root" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }
log "apt: updates and ${#packages[@]} packages"
in_root apt-get update -q >&2
in_root apt-get dist-upgrade -y -q >&2
in_root apt-get install -y -q --no-install-recommends "${packages[@]}" >&2

kver="$(basename "$(ls -d "$root"/lib/modules/* | sort -V | tail -n1)")"
log "kernel $kver: pruning modules"
# Whole driver families an appliance exporting flows never loads (nor runs
# VMs: kvm). Networking (net/, drivers/net/ethernet), storage, filesystems
# and USB input stay.
prune=(
	sound
	drivers/gpu drivers/media drivers/staging drivers/infiniband drivers/isdn
	drivers/net/wireless drivers/net/can drivers/bluetooth drivers/iio
	drivers/nfc drivers/mtd drivers/input/touchscreen drivers/input/joystick
	drivers/hwmon drivers/comedi drivers/w1 drivers/fpga drivers/mfd
	drivers/video/fbdev drivers/platform/chrome drivers/accel arch/x86/kvm
	net/wireless net/mac80211 net/bluetooth net/nfc net/can
	fs/btrfs fs/xfs fs/ocfs2 fs/gfs2 fs/nfs fs/nfsd fs/ceph fs/smb fs/f2fs
	fs/ubifs fs/jfs fs/nilfs2 fs/bcachefs fs/orangefs fs/coda fs/afs
)
for p in "${prune[@]}"; do
	rm -rf "$root/lib/modules/$kver/kernel/$p"
done
in_root depmod -a "$kver"
in_root update-initramfs -u -k "$kver" >&2

log "cleaning"
# Unmount first: the .debs under the apt archive mount are the cache's.
cleanup
mounted=()
rm -f "$root/usr/sbin/policy-rc.d"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/debconf/*-old \
	"$root"/var/log/*.log "$root"/var/log/apt/* "$root"/tmp/* "$root"/var/tmp/*
# What minbase installed before dpkg's excludes were in place.
find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/lintian
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
# Every machine made from the image gets its own identity on first boot.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*
log "done: $(du -sh --one-file-system "$root" | cut -f1)"
