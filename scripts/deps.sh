#!/usr/bin/env bash
# Installs the Debian 12 packages fencelock needs to build, test and demo,
# and only those that are missing. Safe to run repeatedly; needs root to install.
set -euo pipefail
# libclang-rt-14-dev: libFuzzer and the sanitizer runtimes for `make fuzz` and
# `make asan` (clang only recommends it, and we install without recommends).
# prometheus: for promtool (scripts/lint.sh checks and unit-tests the shipped alert
# rules); the package also ships a Prometheus server, which is stopped and disabled
# below where systemd runs, so that installing the test tools starts no service.
PKGS=(build-essential clang pkg-config libaio-dev liburcu-dev libcmocka-dev libjansson-dev
      libinih-dev libfuse3-dev fuse3 sanlock iproute2 nftables etcd-server etcd-client
      procps psmisc util-linux python3 bc jq strace libclang-rt-14-dev
      qemu-system-x86 linux-image-cloud-amd64 busybox-static cpio
      cppcheck shellcheck clang-format libsodium-dev python3-cryptography gnuplot-nox python3-yaml
      prometheus)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "fencelock: missing packages: ${missing[*]}; run 'make deps' as root" >&2
    exit 1
fi
echo "fencelock: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [[ " ${missing[*]} " == *" prometheus "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
