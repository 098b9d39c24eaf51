#!/usr/bin/env bash
# Installs everything the test bed, the driver build and the packaging tests
# need on a Debian 12 host. Idempotent: a second run only checks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

# bindgen-cli compiles for a minute or two while apt downloads and unpacks:
# started first, in the background (it needs only cargo and a linker).
bindgen_pid=""
if ! command -v bindgen >/dev/null; then
  command -v cargo >/dev/null || die "cargo not found: install Rust with rustup (https://rustup.rs) first"
  log "cargo install bindgen-cli (in the background)"
  cargo install --locked bindgen-cli --version 0.73.2 -q &
  bindgen_pid=$!
fi

# trixie-backports carries linux-source-7.3; bookworm-backports carries the
# QEMU that matches the machine's qemu-utils (10.0). Backports suites are
# NotAutomatic, so adding them upgrades nothing; sid/unstable is never added.
added=0
for suite in trixie-backports bookworm-backports; do
  f=/etc/apt/sources.list.d/dcbm-$suite.sources
  [ -f "$f" ] && continue
  log "adding apt suite $suite"
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$suite" | $SUDO tee "$f" >/dev/null
  added=1
done

# clang-19, lld-19 and llvm-19 (llvm-ar-19, llvm-nm-19, ...) build the
# sanitizer kernel (build-kernel.sh --variant san, LLVM=-19); rsync the
# kernel packages (headers_install); debootstrap the Debian 12 root;
# ansible-core, ansible-lint and ssh for the Ansible collection. All
# here, so that no later step runs apt while another does.
pkgs=(build-essential flex bison bc libelf-dev libssl-dev cpio xz-utils
      libclang-19-dev clang-19 lld-19 llvm-19 busybox-static kmod
      dkms dh-dkms debhelper devscripts lintian fakeroot rpm rpmlint
      python3-matplotlib zstd debootstrap rsync ansible-core ansible-lint openssh-client)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((added)) || ((${#missing[@]})); then
  $SUDO apt-get update -qq
fi
# The kernel source (a download, then most of a minute of xz on one core)
# unpacked while apt installs and bindgen compiles: the first kernel build
# finds it ready. If this fails, that build fetches it and says why.
source_pid=""
if command -v xz >/dev/null; then
  "$here/build-kernel.sh" --fetch-source &
  source_pid=$!
fi
if ((${#missing[@]})); then
  log "apt-get install ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v qemu-system-x86_64 >/dev/null; then
  log "apt-get install qemu-system-x86 (bookworm-backports)"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86 >/dev/null
fi

command -v rustup >/dev/null || die "rustup not found: install Rust with rustup (https://rustup.rs) first"
sysroot=$(rustc --print sysroot)
[ -d "$sysroot/lib/rustlib/src/rust/library/core" ] || rustup component add rust-src
[ -d "$sysroot/lib/rustlib/x86_64-unknown-linux-musl" ] || rustup target add x86_64-unknown-linux-musl
if [ -n "$bindgen_pid" ]; then
  wait "$bindgen_pid" || die "cargo install bindgen-cli failed"
fi
command -v bindgen >/dev/null || die "bindgen not found after its install"
if [ -n "$source_pid" ]; then
  wait "$source_pid" || log "the kernel source was not fetched here; the kernel build will fetch it"
fi
log "host ready"
