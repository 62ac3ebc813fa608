#!/bin/bash
# Takes a fresh Debian 12 (bookworm) machine, as root, to a working l3afd build
# and test environment. Idempotent: safe to run again.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "setup.sh: must run as root (it installs packages)" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive

backports=/etc/apt/sources.list.d/bookworm-backports.sources
if [ ! -f "$backports" ]; then
	cat >"$backports" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	rm -f /var/lib/l3af-setup.stamp
fi

# From backports: the eBPF toolchain (libbpf >= 1.4 for TCX, bpftool >= 7.4).
backported=(libbpf-dev libbpf1 bpftool linux-libc-dev)

packages=(
	build-essential pkg-config meson ninja-build git
	clang llvm lld clang-format
	libtomlplusplus-dev libspdlog-dev libfmt-dev libsystemd-dev libmnl-dev nlohmann-json3-dev libxdp-dev xdp-tools
	libelf-dev zlib1g-dev libzstd-dev
	libgtest-dev libgmock-dev googletest
	bats iproute2 iputils-ping netcat-openbsd iperf3 tcpdump procps psmisc ethtool jq
	nfdump tshark python3-scapy python3-ipfix
	prometheus-cpp-dev prometheus dbus-daemon dbus-bin
	qemu-system-x86 debootstrap dosfstools mtools fdisk zstd
)

stamp=/var/lib/l3af-setup.stamp
want="$(printf '%s\n' "${packages[@]}" "${backported[@]}" | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
	dpkg -s "${packages[@]}" "${backported[@]}" >/dev/null 2>&1; then
	echo "setup.sh: packages already installed"
	exit 0
fi

# tshark asks whether non-root users may capture; answer once, quietly.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections

apt-get update
apt-get install -y --no-install-recommends "${packages[@]}"
apt-get install -y --no-install-recommends -t bookworm-backports "${backported[@]}"

echo "$want" >"$stamp"
echo "setup.sh: done"
