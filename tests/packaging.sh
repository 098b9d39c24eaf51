#!/usr/bin/env bash
# Packaging test: builds the .deb and .rpm packages, lints them, installs
# the .debs with apt, checks that DKMS built and installed dcbm for the
# test-bed kernel, for a second test-bed kernel through the kernel postinst
# hook, and that it skips kernels without Rust or without the offload
# interface (without failing); removes and purges the packages and checks
# that nothing is left. Also checks what the packages declare and what
# their maintainer scripts do: the unit enabled but never started by the
# package manager, offload switched off on removal, the drop-in
# directories owned, a generated /etc/modprobe.d/dcbm.conf purged, cargo
# run --locked --offline, the RPM's %check run, no preset, no doc lost.
#
#   sudo tests/packaging.sh [install|kernels]   (needs root: apt, dkms, /lib/modules)
#
# In two stages, so that the VM scenarios can start with the module DKMS
# built while the other kernels are still being built: "install" builds,
# lints and installs the .debs and checks DKMS on the test-bed kernel,
# leaving the packages installed; "kernels" (after "install") runs the
# kernel postinst hook for the v6 test-bed kernel, removes and purges the
# packages, checks that nothing is left and builds the .rpms. Without an
# argument, both. DCBM_KDIR names the test-bed kernel tree (default: the
# cache's "current" link).
#
# Prints one `PASS ...`/`FAIL ...` line per check and, as its last line,
# `N passed, N failed`, also when it stops early (not root, no test-bed
# kernel, an abort: then a FAIL line says so); exits 0 exactly when no
# check failed. Re-runnable: leftovers of an earlier run
# are cleaned up first, and every /lib/modules entry it creates is removed.
# Builds the v6 test-bed tree (testbed/build-kernel.sh --series v6; cached
# afterwards). The module DKMS built for the test-bed kernel is kept as
# target/pkg/dkms/<release>/dcbm.ko (path printed as MODULE:).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# (cargo's PATH, DCBM_CACHE's default, needs_symbol and built_for_v5)
. "$repo/testbed/lib.sh"
export DEBIAN_FRONTEND=noninteractive
cache=$DCBM_CACHE
work=$repo/target/pkg/test
state=/var/tmp/dcbm-packaging-test.created   # /lib/modules entries we made
log=$work/log
version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$repo/Cargo.toml")
arch=$(uname -m)
stage=${1:-all}
case $stage in all|install|kernels) ;; *) echo "usage: tests/packaging.sh [install|kernels]" >&2; exit 2 ;; esac
first=0 second=0
[ "$stage" = kernels ] || first=1
[ "$stage" = install ] || second=1

pass=0 fail=0
ok() { echo "PASS $*"; pass=$((pass + 1)); }
ko() { echo "FAIL $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@" >>"$log" 2>&1; then ok "$what"; else ko "$what"; fi; }
info() { echo "# $*"; }
summarized=""
summary() { echo "$pass passed, $fail failed"; summarized=1; }

# On any exit: clean up once cleanup is armed, and if the summary was not
# printed yet (an abort, a signal), say so with a FAIL line, print it and
# exit non-zero.
cleanup_armed=""
finish() {
  local rc=$?
  [ -z "$cleanup_armed" ] || cleanup >>"$log" 2>&1
  if [ -z "$summarized" ]; then
    ko "tests/packaging.sh stopped before its last check (exit status $rc)"
    summary
    exit $((rc ? rc : 1))
  fi
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$(id -u)" != 0 ]; then
  ko "tests/packaging.sh runs as root (apt, dkms, /lib/modules)"
  summary; exit 2
fi

# --- /lib/modules entries for the kernels under test -------------------
# link_kernel RELEASE TREE: /lib/modules/RELEASE/build -> TREE, recording
# what did not exist before so cleanup removes exactly that.
link_kernel() {
  local rel=$1 tree=$2
  [ -e /lib/modules ] || { mkdir -p /lib/modules && echo /lib/modules >>"$state"; }
  [ -e "/lib/modules/$rel" ] || { mkdir -p "/lib/modules/$rel" && echo "/lib/modules/$rel" >>"$state"; }
  if [ ! -e "/lib/modules/$rel/build" ] || [ -L "/lib/modules/$rel/build" ]; then
    ln -sfn "$tree" "/lib/modules/$rel/build"
    echo "/lib/modules/$rel/build" >>"$state"
  fi
}

cleanup() {
  if dpkg-query -W -f='${Status}\n' dcbm-dkms dcbm-config 2>/dev/null | grep -qv 'not-installed'; then
    apt-get purge -y dcbm-dkms dcbm-config >>"$log" 2>&1
  fi
  if [ -d /var/lib/dkms/dcbm ]; then
    local v; for v in /var/lib/dkms/dcbm/*/; do
      [ -d "$v" ] && dkms remove -m dcbm -v "$(basename "$v")" --all >>"$log" 2>&1
    done
    rm -rf /var/lib/dkms/dcbm
  fi
  if [ -f "$state" ]; then
    # deepest first: build links, then release dirs (with what dkms and
    # depmod put there), then /lib/modules itself if it was ours
    local p
    while read -r p; do
      case $p in
        */build) [ -L "$p" ] && rm -f "$p" ;;
        /lib/modules) ;;
        /lib/modules/*) rm -rf "$p" ;;
      esac
    done < <(sort -r -u "$state")
    grep -qx /lib/modules "$state" && rmdir /lib/modules 2>/dev/null
    rm -f "$state"
  fi
  return 0
}

mkdir -p "$work"
if ((first)); then
  : >"$log"
  cleanup
elif ! dpkg-query -W -f='${db:Status-Status}\n' dcbm-dkms dcbm-config 2>/dev/null | grep -qx installed; then
  ko "stage kernels: the packages are not installed (run stage install first)"
fi
# The packages stay installed after the install stage: only the last stage
# cleans up on the way out.
((second)) && cleanup_armed=1

# --- the test-bed kernel tree ------------------------------------------
tree1=$(readlink -f "${DCBM_KDIR:-$cache/current}" 2>/dev/null)
if [ -z "$tree1" ] || [ ! -f "$tree1/vmlinux" ] || [ ! -f "$tree1/.dcbm-built" ]; then
  ko "test-bed kernel tree present ($cache/current; run testbed/build-kernel.sh)"
  summary; exit 1
fi
rel1=$(cat "$tree1/include/config/kernel.release")
ko1=/lib/modules/$rel1/updates/dkms/dcbm.ko
info "test-bed kernel $rel1: $tree1"
# Kernels dcbm cannot be built for, as configured trees (dkms reads
# .config) under $fake: made by the first stage, used by both.
fake=$work/kernels
rel_nooff=${rel1%%-*}-nooffload rel_norust=${rel1%%-*}-norust

if ((first)); then
# --- build and lint ------------------------------------------------------
debdir=$work/deb
rm -rf "$debdir"
if "$repo/packaging/deb/build.sh" "$debdir" >"$work/deb-build.out" 2>"$work/deb-build.err"; then
  ok "deb: dpkg-buildpackage builds dcbm-dkms and dcbm-config"
else
  ko "deb: dpkg-buildpackage (see $work/deb-build.err)"
fi
cat "$work/deb-build.err" >>"$log"
deb_dkms=$debdir/dcbm-dkms_${version}_all.deb
deb_cfg=$(ls "$debdir"/dcbm-config_"${version}"_*.deb 2>/dev/null | head -1)
check "deb: dcbm-dkms is Architecture: all" test "$(dpkg-deb -f "$deb_dkms" Architecture 2>/dev/null)" = all
if lintian --fail-on error,warning "$debdir"/dcbm_"${version}"_*.changes >"$work/lintian.out" 2>&1; then
  ok "deb: lintian --fail-on error,warning ($(grep -c '^[EW]:' "$work/lintian.out") errors/warnings)"
else
  ko "deb: lintian: $(grep '^[EW]:' "$work/lintian.out" | head -5 | tr '\n' ' ')"
fi
# What the packages declare, and what their maintainer scripts run.
check "deb: cargo built and tested with --locked --offline (crates exactly as Cargo.lock pins, no network)" \
  grep -Eq '^cargo build .*--locked --offline' "$work/deb-build.err"
check "deb: dcbm-config is Section: admin, dcbm-dkms Section: kernel" sh -c "
  [ \"\$(dpkg-deb -f '$deb_cfg' Section)\" = admin ] && [ \"\$(dpkg-deb -f '$deb_dkms' Section)\" = kernel ]"
check "deb: dcbm-dkms neither needs nor suggests bindgen or libclang (a module build needs neither: packaging/README.md)" \
  sh -c "dpkg-deb -f '$deb_dkms' Suggests | grep -q rustc && ! dpkg-deb -f '$deb_dkms' Depends Recommends Suggests | grep -Eiq 'bindgen|clang'"
ctl=$work/deb-control
rm -rf "$ctl" && dpkg-deb -e "$deb_cfg" "$ctl" 2>>"$log"
check "deb: apt enables dcbm-config.service and never starts, restarts or stops it (dh_installsystemd --no-start --no-stop-on-upgrade)" \
  sh -c "grep -q 'deb-systemd-helper enable' '$ctl/postinst' && ! grep -q deb-systemd-invoke '$ctl/postinst' &&
         ! grep -qs deb-systemd-invoke '$ctl/preinst'"
# run_prerm ARG: dcbm-config's prerm, run as dpkg runs it with $1 = ARG,
# with a fake dcbm-config and deb-systemd-invoke first on PATH that record
# each call as "NAME ARGS"; prints those lines. Fails if the prerm does.
run_prerm() {
  local dir=$work/prerm-$1 f
  rm -rf "$dir" && mkdir -p "$dir/bin" && : >"$dir/calls" || return 1
  for f in dcbm-config deb-systemd-invoke; do
    printf '#!/bin/sh\nprintf "%%s %%s\\n" %s "$*" >>"%s/calls"\n' "$f" "$dir" >"$dir/bin/$f"
    chmod +x "$dir/bin/$f" || return 1
  done
  PATH="$dir/bin:$PATH" sh "$ctl/prerm" "$1" >>"$log" 2>&1 || return 1
  cat "$dir/calls"
}
calls=$(run_prerm remove); rc=$?
if [ "$rc" = 0 ] && grep -qx 'dcbm-config off' <<<"$calls"; then
  ok "deb: dcbm-config's prerm remove runs dcbm-config off (offload does not outlive the package)"
else
  ko "deb: dcbm-config's prerm remove should run dcbm-config off; exit status $rc, calls: $(paste -sd ';' <<<"$calls")"
fi
calls=$(run_prerm upgrade); rc=$?
if [ "$rc" = 0 ] && [ -z "$calls" ]; then
  ok "deb: dcbm-config's prerm upgrade leaves the unit and offload alone"
else
  ko "deb: dcbm-config's prerm upgrade should call nothing; exit status $rc, calls: $(paste -sd ';' <<<"$calls")"
fi
check "deb: dkms.conf carries version $version" \
  sh -c "dpkg-deb --fsys-tarfile '$deb_dkms' | tar -xO ./usr/src/dcbm-$version/dkms.conf | grep -qx 'PACKAGE_VERSION=\"$version\"'"

# dkms.conf may read what dkms(8) documents; the internals it reads for
# dkms < 3.0.11 (no documented way there) stay inside that one block.
conf_internals_outside_old_block() {
  awk '/^if \[ -n "\$_dcbm_old_dkms" \]/ { old = 1 }
       old && /^fi$/ { old = 0; next }
       !old && !/^ *#/ && /\$\{?action|FUNCNAME|\/proc\/|\$\$/ { print FILENAME ":" FNR ": " $0; bad = 1 }
       END { exit bad }' "$repo/dkms/dkms.conf"
}
check "dkms.conf reads no DKMS internals (\$action, FUNCNAME, /proc/\$\$) outside its dkms < 3.0.11 block" \
  conf_internals_outside_old_block

# --- kernels that do not qualify -------------------------------------------
rm -rf "$fake"
mkdir -p "$fake/$rel_nooff/include/config" "$fake/$rel_norust/include/config"
grep -v '^CONFIG_MIGRATION_COPY_OFFLOAD=' "$tree1/.config" >"$fake/$rel_nooff/.config"
ln -s "$tree1/rust" "$fake/$rel_nooff/rust"     # Rust is there, the interface is not
grep -v '^CONFIG_RUST=' "$tree1/.config" >"$fake/$rel_norust/.config"
echo "$rel_nooff" >"$fake/$rel_nooff/include/config/kernel.release"
echo "$rel_norust" >"$fake/$rel_norust/include/config/kernel.release"

link_kernel "$rel1" "$tree1"
link_kernel "$rel_nooff" "$fake/$rel_nooff"
link_kernel "$rel_norust" "$fake/$rel_norust"

# --- apt install -----------------------------------------------------------
if apt-get install -y "$deb_dkms" "$deb_cfg" >"$work/apt-install.out" 2>&1; then
  ok "apt install ./dcbm-dkms ./dcbm-config succeeds (with 2 unsupported kernels present)"
else
  ko "apt install (see $work/apt-install.out)"; tail -20 "$work/apt-install.out"
fi
check "apt install: $rel_nooff skipped, saying the offload interface is missing" \
  grep -q "dcbm: not building for kernel $rel_nooff: .*copy-offload interface" "$work/apt-install.out"
check "apt install: $rel_norust skipped, saying Rust is missing" \
  grep -q "dcbm: not building for kernel $rel_norust: .*CONFIG_RUST" "$work/apt-install.out"
check "dkms status: dcbm/$version installed for $rel1" \
  sh -c "dkms status -m dcbm -v $version -k $rel1 | grep -q ': installed'"
check "module installed at $ko1 (uncompressed: no CONFIG_MODULE_COMPRESS)" test -f "$ko1"
check "module vermagic is $rel1" sh -c "modinfo -F vermagic '$ko1' | grep -q '^$rel1 '"
check "depmod knows dcbm for $rel1" grep -q 'updates/dkms/dcbm.ko' "/lib/modules/$rel1/modules.dep"
check "no dcbm build for $rel_nooff / $rel_norust" \
  sh -c "! dkms status -m dcbm | grep -q -e '$rel_nooff' -e '$rel_norust' &&
         test ! -e /var/lib/dkms/dcbm/$version/$rel_nooff -a ! -e /var/lib/dkms/dcbm/$version/$rel_norust"
if [ -f "$ko1" ]; then
  mkdir -p "$repo/target/pkg/dkms/$rel1"
  cp "$ko1" "$repo/target/pkg/dkms/$rel1/dcbm.ko"
  echo "MODULE: $ko1 (kept as $repo/target/pkg/dkms/$rel1/dcbm.ko)"
fi

# dcbm-config's files, laid out as the VM image uses them
check "dcbm-config: /usr/bin/dcbm-config runs" /usr/bin/dcbm-config --version
check "dcbm-config: /etc/dcbm.toml is a conffile" sh -c "dpkg-query -W -f='\${Conffiles}' dcbm-config | grep -q '/etc/dcbm.toml'"
check "dcbm-config: default policy validates" /usr/bin/dcbm-config --config /etc/dcbm.toml validate
check "dcbm-config: unit enabled (multi-user.target.wants)" test -L /etc/systemd/system/multi-user.target.wants/dcbm-config.service
check "dcbm-config: owns the drop-in directories /etc/dcbm.d and /usr/lib/dcbm.d" sh -c "
  test -d /etc/dcbm.d -a -d /usr/lib/dcbm.d &&
  [ \"\$(dpkg-query -S /etc/dcbm.d)\" = 'dcbm-config: /etc/dcbm.d' ] &&
  [ \"\$(dpkg-query -S /usr/lib/dcbm.d)\" = 'dcbm-config: /usr/lib/dcbm.d' ]"
check "dcbm-config: both READMEs in /usr/share/doc/dcbm-config (the tool's README.md, the packages' README.packaging.md)" sh -c "
  zcat -f /usr/share/doc/dcbm-config/README.md* | head -1 | grep -qx '# dcbm-config' &&
  zcat -f /usr/share/doc/dcbm-config/README.packaging.md* | head -1 | grep -qx '# dcbm packages'"
check "dcbm-config: udev rule, man page, completions installed" \
  test -f /lib/udev/rules.d/90-dcbm.rules -a -f /usr/share/man/man8/dcbm-config.8.gz \
  -a -f /usr/share/bash-completion/completions/dcbm-config -a -f /usr/share/zsh/vendor-completions/_dcbm-config

# --- an explicit build for a non-qualifying kernel (the kernel hook for it:
# below, with the DKMS of Debian 12 and of Debian 13)
dkms build -m dcbm -v "$version" -k "$rel_nooff" >"$work/build-nooff.out" 2>&1
rc=$?
check "dkms build -k $rel_nooff skips with exit 77 (BUILD_EXCLUSIVE)" test "$rc" = 77

# --- the pre-build check: wrong rustc --------------------------------------
pbc=$work/prebuild
rm -rf "$pbc"; mkdir -p "$pbc"
cp /usr/src/dcbm-"$version"/* "$pbc/" 2>/dev/null
printf '#!/bin/sh\necho "rustc 1.80.0 (051478957 2024-07-21)"\n' >"$pbc/fake-rustc"; chmod +x "$pbc/fake-rustc"
(cd "$pbc" && ./dcbm-prebuild-check "$tree1" "$pbc/fake-rustc") >"$work/prebuild.out" 2>&1
rc=$?
check "pre-build check rejects a rustc other than the kernel's, saying what to install" \
  sh -c "[ $rc = 1 ] && grep -q 'rustup toolchain install' '$work/prebuild.out' && grep -q 'error dcbm:' '$pbc/Kbuild'"
check "pre-build check accepts the kernel's rustc" \
  /usr/src/dcbm-"$version"/dcbm-prebuild-check "$tree1" "$(/usr/src/dcbm-"$version"/dcbm-prebuild-check --find-rustc "$tree1")"
check "find-rustc works without ~/.cargo/bin on PATH (as from apt)" \
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$HOME" /usr/src/dcbm-"$version"/dcbm-prebuild-check --find-rustc "$tree1"

fi # first stage

if ((second)); then
# --- another test-bed kernel: dkms autoinstall via the postinst hook -------
# autoinstall_kernel WHAT BUILD_ARGS...: builds (or fetches) the tree that
# `build-kernel.sh BUILD_ARGS` gives, runs the kernel postinst hook for it
# exactly as the kernel package does (run-parts passes the release) and
# checks that DKMS installed dcbm there; sets rel and kmod.
autoinstall_kernel() {
  local what=$1 tree
  shift
  rel="" kmod=""
  info "building/fetching the $what test-bed tree ($*)"
  if ! tree=$("$repo/testbed/build-kernel.sh" "$@" 2>>"$log") || [ ! -f "$tree/vmlinux" ]; then
    ko "$what test-bed kernel (testbed/build-kernel.sh $*, see $log)"
    return 1
  fi
  rel=$(cat "$tree/include/config/kernel.release")
  ok "$what test-bed kernel $rel built ($tree)"
  link_kernel "$rel" "$tree"
  if /etc/kernel/postinst.d/dkms "$rel" >"$work/hook-$rel.out" 2>&1; then
    ok "kernel postinst hook (dkms autoinstall) for $rel exits 0"
  else
    ko "kernel postinst hook for $rel: $(tail -5 "$work/hook-$rel.out" | tr '\n' ' ')"
  fi
  check "dkms status: dcbm/$version installed for $rel" \
    sh -c "dkms status -m dcbm -v $version -k $rel | grep -q ': installed'"
  kmod=/lib/modules/$rel/updates/dkms/dcbm.ko
  check "module for $rel at $kmod with vermagic $rel" sh -c "modinfo -F vermagic '$kmod' | grep -q '^$rel '"
}
# The v6 kernel, a second release on the machine: the same package builds
# for it, the interface chosen by the build.
rel2=""
if autoinstall_kernel v6 --series v6; then
  rel2=$rel
  # The v6 API is linked only by a build against a v6 header: no switch.
  check "module for $rel built for the v6 interface (uses migrate_offload_set_reason_mask)" \
    needs_symbol "$kmod" migrate_offload_set_reason_mask
  check "module for $rel1 built for the v5 interface (from the same package)" \
    built_for_v5 "$ko1"
fi

# --- the kernel hook with the DKMS of Debian 12 and of Debian 13 --------
# dkms.conf reads only what dkms(8) documents, but for one block that runs
# only on dkms < 3.0.11. What the kernel hook does with dcbm on kernels it
# cannot be built for is checked with each DKMS the registries serve: this
# machine's (Debian 12) and Debian 13's, run from its unpacked package
# (kept in the cache; Fedora's repositories are not reachable from here).
# Two such kernels: the first stage's without the offload interface, and a
# Rust tree whose rustc is not installed.
rel_norustc=${rel1%%-*}-norustc
norustc_text="rustc 1.70.0 (90c541806 2023-05-31)"
# the norustc tree: tree1 by symlinks, but for the rustc it records
t=$fake/$rel_norustc
rm -rf "$t" && mkdir -p "$t/include/config"
for e in "$tree1"/* "$tree1"/.[!.]*; do
  case ${e##*/} in include|.config) ;; *) ln -s "$e" "$t/" ;; esac
done
for e in "$tree1"/include/*; do [ "${e##*/}" = config ] || ln -s "$e" "$t/include/"; done
for e in "$tree1"/include/config/*; do
  case ${e##*/} in auto.conf|kernel.release) ;; *) ln -s "$e" "$t/include/config/" ;; esac
done
for f in .config include/config/auto.conf; do
  sed "s/^CONFIG_RUSTC_VERSION_TEXT=.*/CONFIG_RUSTC_VERSION_TEXT=\"$norustc_text\"/" "$tree1/$f" >"$t/$f"
done
echo "$rel_norustc" >"$t/include/config/kernel.release"
link_kernel "$rel_norustc" "$t"

# Debian 13's dkms package, through apt with a private state directory
# (the machine's sources stay as they are).
d13_deb=""
fetch_debian13_dkms() {
  local dir=$cache/dkms-debian13 a
  mkdir -p "$dir/lists/partial" "$dir/cache" || return 1
  d13_deb=$(ls "$dir"/dkms_*_all.deb 2>/dev/null | head -1)
  [ -n "$d13_deb" ] && return 0
  echo "deb http://deb.debian.org/debian trixie main" >"$dir/sources.list"
  a=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
     -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o APT::Sandbox::User=root
     -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false)
  apt-get "${a[@]}" update && (cd "$dir" && apt-get "${a[@]}" download dkms) || return 1
  rm -rf "$dir/lists" "$dir/cache"
  d13_deb=$(ls "$dir"/dkms_*_all.deb 2>/dev/null | head -1)
  [ -n "$d13_deb" ]
}
d13=$work/dkms-debian13
if fetch_debian13_dkms >>"$log" 2>&1 && rm -rf "$d13" && dpkg-deb -x "$d13_deb" "$d13"; then
  ok "Debian 13's dkms unpacked ($(basename "$d13_deb"))"
else
  ko "Debian 13's dkms package from deb.debian.org (see $log)"; d13=""
fi

# hook_checks NAME HOOK PATH_PREFIX: the kernel hook HOOK (with
# PATH_PREFIX first on PATH, so that it runs that DKMS) for both kernels,
# an explicit build for the rustc-less one, and a status listing.
hook_checks() {
  local name=$1 hook=$2 pre=$3 out=$work/hook-$1 rc
  name="$name ($(PATH=$pre:$PATH dkms --version 2>&1))"
  # hook_skips KERNEL WHY PATTERN: the hook exits 0 and says why
  hook_skips() {
    if PATH=$pre:$PATH $hook "$1" >"$out-$1.out" 2>&1; then
      ok "$name: kernel hook for $1 ($2) exits 0"
    else
      ko "$name: kernel hook for $1 failed: $(tail -3 "$out-$1.out" | tr '\n' ' ')"
    fi
    check "$name: the hook says why dcbm skipped $1 ($2)" \
      grep -q "dcbm: not building for kernel $1: .*$3" "$out-$1.out"
  }
  hook_skips "$rel_nooff" "no offload interface" "copy-offload interface"
  hook_skips "$rel_norustc" "its rustc not installed" "'$norustc_text'.*rustup toolchain install 1.70.0"
  PATH=$pre:$PATH dkms build -m dcbm -v "$version" -k "$rel_norustc" >"$out-build.out" 2>&1
  rc=$?
  check "$name: dkms build -k $rel_norustc skips (exit 77, not $rc) naming the rustc" \
    sh -c "[ $rc = 77 ] && grep -q 'rustup toolchain install 1.70.0' '$out-build.out'"
  check "$name: neither kernel got a dcbm build" \
    sh -c "! PATH=$pre:\$PATH dkms status -m dcbm | grep -q -e '$rel_nooff' -e '$rel_norustc'"
  PATH=$pre:$PATH dkms status >"$out-status.out" 2>&1
  rc=$?
  check "$name: dkms status exits 0 and says nothing of the kernels dcbm skipped" \
    sh -c "[ $rc = 0 ] && ! grep -q 'not building' '$out-status.out'"
}
hook_checks "Debian 12 dkms" /etc/kernel/postinst.d/dkms /usr/sbin
if [ -n "$d13" ]; then
  # Debian 13's hook runs /usr/lib/dkms/dkms_autoinstaller, which here is
  # Debian 12's: its own autoinstaller is run in its place.
  hook_checks "Debian 13 dkms" "$d13/usr/lib/dkms/dkms_autoinstaller start" "$d13/usr/sbin"
  # and its build of the module, with the MAKE line of dkms.conf, by the
  # steps an administrator runs by hand (Debian 12's dkms built it at the
  # package's install)
  check "Debian 13 dkms: dkms remove, build, install -k $rel1 rebuild dcbm" sh -c "
    export PATH=$d13/usr/sbin:\$PATH
    dkms remove -m dcbm -v $version -k $rel1 && test ! -e '$ko1' &&
    dkms build -m dcbm -v $version -k $rel1 && dkms install -m dcbm -v $version -k $rel1 &&
    modinfo -F vermagic '$ko1' | grep -q '^$rel1 '"
fi

# --- remove, then purge -------------------------------------------------------
# Load-time parameters as the README has the administrator write them:
# the package's tool generated the file, so purge removes it.
modconf=/etc/modprobe.d/dcbm.conf
if [ -e "$modconf" ]; then
  ko "$modconf exists before the test (not ours: left alone, its purge not checked)"
  modconf=""
else
  check "dcbm-config modprobe-conf --output $modconf" /usr/bin/dcbm-config modprobe-conf --output "$modconf"
fi
if apt-get remove -y dcbm-dkms dcbm-config >"$work/apt-remove.out" 2>&1; then
  ok "apt remove dcbm-dkms dcbm-config"
else
  ko "apt remove dcbm-dkms dcbm-config (see $work/apt-remove.out)"
fi
cat "$work/apt-remove.out" >>"$log"
check "removed: the prerm switched offload off (dcbm-config off ran)" \
  grep -Eq 'dcbm module not loaded: offload is off|offload is already off|^offload off' "$work/apt-remove.out"
check "removed: no /run/dcbm (the unit's runtime state)" test ! -e /run/dcbm
check "removed: no /var/lib/dkms/dcbm" test ! -e /var/lib/dkms/dcbm
check "removed: no /usr/src/dcbm-*" sh -c '! ls -d /usr/src/dcbm-* 2>/dev/null'
check "removed: no dcbm.ko for $rel1${rel2:+ and $rel2}" \
  sh -c "! find /lib/modules -name 'dcbm.ko*' 2>/dev/null | grep -q ."
check "removed: binary and unit gone, /etc/dcbm.toml kept until purge" \
  test ! -e /usr/bin/dcbm-config -a ! -e /lib/systemd/system/dcbm-config.service -a -f /etc/dcbm.toml
[ -z "$modconf" ] || check "removed: $modconf kept until purge" test -f "$modconf"
check "apt purge dcbm-config dcbm-dkms" apt-get purge -y dcbm-dkms dcbm-config
check "purged: /etc/dcbm.toml and the unit's enable link gone" \
  test ! -e /etc/dcbm.toml -a ! -e /etc/systemd/system/multi-user.target.wants/dcbm-config.service
[ -z "$modconf" ] || check "purged: the generated $modconf gone" test ! -e "$modconf"
check "purged: /etc/dcbm.d and /usr/lib/dcbm.d gone" test ! -e /etc/dcbm.d -a ! -e /usr/lib/dcbm.d
check "purged: dpkg knows neither package" \
  sh -c "! dpkg-query -W -f='\${db:Status-Status}\n' dcbm-dkms dcbm-config 2>/dev/null | grep -qv not-installed"

# --- rpm ------------------------------------------------------------------------
rpmdir=$work/rpm
rm -rf "$rpmdir"
if "$repo/packaging/rpm/build.sh" "$rpmdir" >"$work/rpm-build.out" 2>"$work/rpm-build.err"; then
  ok "rpm: rpmbuild -ba builds dkms-dcbm, dcbm-config and the SRPM; rpmlint: $(grep -o '[0-9]* errors, [0-9]* warnings' "$work/rpm-build.err" | tail -1)"
else
  ko "rpm: build or rpmlint failed: $(grep -E ' E: |error' "$work/rpm-build.err" | head -5 | tr '\n' ' ')"
fi
rpm_dkms=$(ls "$rpmdir"/dkms-dcbm-"$version"-*.noarch.rpm 2>/dev/null | head -1)
rpm_cfg=$(ls "$rpmdir"/dcbm-config-"$version"-*.rpm 2>/dev/null | head -1)
check "rpm: %check ran the tool's tests, all passed" sh -c "
  grep -q 'Executing(%check)' '$work/rpm-build.err' && grep -q '^test result: ok' '$work/rpm-build.err' &&
  ! grep -q '^test result: FAILED' '$work/rpm-build.err'"
check "rpm: cargo built and tested with --locked --offline" sh -c "
  grep -Eq '^\+ cargo build .*--locked --offline' '$work/rpm-build.err' &&
  grep -Eq '^\+ cargo test .*--locked --offline' '$work/rpm-build.err'"
check "rpm: no file listed twice; dcbm-config has both READMEs (README.md, README.packaging.md)" sh -c "
  ! grep -q 'File listed twice' '$work/rpm-build.err' &&
  rpm -qpl '$rpm_cfg' | grep -q '/dcbm-config[^/]*/README\.md\$' &&
  rpm -qpl '$rpm_cfg' | grep -q '/dcbm-config[^/]*/README\.packaging\.md\$'"
check "rpm: dcbm-config ships no systemd preset (the system's presets decide: Fedora policy)" \
  sh -c "! rpm -qpl '$rpm_cfg' | grep -q system-preset"
check "rpm: dcbm-config owns /etc/dcbm.d and /usr/lib/dcbm.d (directories)" sh -c "
  rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' '$rpm_cfg' | grep -qx 'drwxr-xr-x /etc/dcbm.d' &&
  rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' '$rpm_cfg' | grep -qx 'drwxr-xr-x /usr/lib/dcbm.d'"
check "rpm: dkms-dcbm suggests neither bindgen nor clang (a module build needs neither)" \
  sh -c "! rpm -qp --suggests --requires '$rpm_dkms' | grep -Eiq 'bindgen|clang'"
check "rpm: no dcbm-config scriptlet starts or restarts the unit" \
  sh -c "! rpm -qp --scripts '$rpm_cfg' | grep -Eq 'systemctl.* (start|restart|try-restart|reload-or-restart) '"
check "rpm: dkms-dcbm is noarch and ships /usr/src/dcbm-$version/dkms.conf" sh -c "
  [ \"\$(rpm -qp --qf '%{ARCH}' '$rpm_dkms')\" = noarch ] &&
  rpm -qpl '$rpm_dkms' | grep -qx /usr/src/dcbm-$version/dkms.conf"
# The scriptlets, run as rpm runs them, against fake commands.
# run_scriptlet RPM TAG ARG [FAKE...]: runs RPM's TAG scriptlet (POSTIN,
# PREUN, POSTUN) with its interpreter and $1 = ARG (1: an install or
# upgrade, 0: an erase), with fake commands FAKE (default: dkms) first on
# PATH that record each call's arguments as one line and exit 0; prints
# those lines, each prefixed with the command's name when FAKEs are
# given. Fails if there is no such shell scriptlet or it exits non-zero.
run_scriptlet() {
  local rpm=$1 tag=$2 arg=$3 dir=$work/scriptlet-$2-$3 prog rc f named=1
  shift 3
  (($#)) || { set -- dkms; named=0; }
  rm -rf "$dir" && mkdir -p "$dir/bin" || return 1
  prog=$(rpm -qp --qf "%{${tag}PROG}" "$rpm" 2>>"$log") || return 1
  case $prog in
    /bin/sh|/usr/bin/sh|/bin/bash|/usr/bin/bash) ;;
    *) echo "$rpm: no $tag shell scriptlet (interpreter: $prog)" >>"$log"; return 1 ;;
  esac
  rpm -qp --qf "%{$tag}" "$rpm" >"$dir/script" 2>>"$log" || return 1
  : >"$dir/calls" || return 1
  for f; do
    if ((named)); then
      printf '#!/bin/sh\nprintf "%%s %%s\\n" %s "$*" >>"%s/calls"\n' "$f" "$dir" >"$dir/bin/$f"
    else
      printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s/calls"\n' "$dir" >"$dir/bin/$f"
    fi
    chmod +x "$dir/bin/$f" || return 1
  done
  { echo "--- $rpm: $tag scriptlet, \$1 = $arg:"; cat "$dir/script"; echo; } >>"$log"
  PATH="$dir/bin:$PATH" "$prog" "$dir/script" "$arg" >>"$log" 2>&1
  rc=$?
  { echo "--- calls of $* (exit status $rc):"; cat "$dir/calls"; } >>"$log"
  cat "$dir/calls"
  return $rc
}
# dkms_calls_are CALLS EXPECTED...: CALLS (one dkms call a line) are
# exactly as many as EXPECTED and in its order; each EXPECTED is the
# subcommand and the options its call must have besides -m dcbm -v VERSION
# (e.g. "remove --all").
dkms_calls_are() {
  local calls=$1 line w want
  shift
  [ "$(grep -c . <<<"$calls")" = $# ] || return 1
  while IFS= read -r line; do
    read -r -a want <<<"$1"
    shift
    [ "${line%% *}" = "${want[0]}" ] || return 1
    for w in "-m dcbm" "-v $version" "${want[@]:1}"; do
      case " $line " in *" $w "*) ;; *) return 1 ;; esac
    done
  done <<<"$calls"
}
calls=$(run_scriptlet "$rpm_dkms" POSTIN 1); rc=$?
if [ "$rc" = 0 ] && dkms_calls_are "$calls" add build install; then
  ok "rpm: dkms-dcbm's %post (\$1 = 1) runs dkms add, build, install -m dcbm -v $version, in that order"
else
  ko "rpm: dkms-dcbm's %post (\$1 = 1) should run dkms add, build, install -m dcbm -v $version, in that order; exit status $rc, dkms calls: $(paste -sd ';' <<<"$calls")"
fi
calls=$(run_scriptlet "$rpm_dkms" PREUN 0); rc=$?
if [ "$rc" = 0 ] && dkms_calls_are "$calls" "remove --all"; then
  ok "rpm: dkms-dcbm's %preun (\$1 = 0) runs dkms remove -m dcbm -v $version --all"
else
  ko "rpm: dkms-dcbm's %preun (\$1 = 0) should run dkms remove -m dcbm -v $version --all, only; exit status $rc, dkms calls: $(paste -sd ';' <<<"$calls")"
fi
# dcbm-config's removal: the unit disabled and stopped, then offload off;
# an upgrade leaves both alone.
calls=$(run_scriptlet "$rpm_cfg" PREUN 0 systemctl dcbm-config); rc=$?
if [ "$rc" = 0 ] && grep -q '^systemctl .*disable --now dcbm-config.service' <<<"$calls" &&
   [ "$(tail -1 <<<"$calls")" = "dcbm-config off" ]; then
  ok "rpm: dcbm-config's %preun (\$1 = 0) disables and stops the unit, then runs dcbm-config off"
else
  ko "rpm: dcbm-config's %preun (\$1 = 0) should disable --now the unit, then run dcbm-config off; exit status $rc, calls: $(paste -sd ';' <<<"$calls")"
fi
calls=$(run_scriptlet "$rpm_cfg" PREUN 1 systemctl dcbm-config); rc=$?
if [ "$rc" = 0 ] && [ -z "$calls" ]; then
  ok "rpm: dcbm-config's %preun (\$1 = 1, an upgrade) leaves the unit and offload alone"
else
  ko "rpm: dcbm-config's %preun (\$1 = 1) should call nothing; exit status $rc, calls: $(paste -sd ';' <<<"$calls")"
fi
check "rpm: dcbm-config has /etc/dcbm.toml as %config(noreplace) and systemd scriptlets" sh -c "
  rpm -qp --configfiles '$rpm_cfg' | grep -qx /etc/dcbm.toml &&
  rpm -qp --qf '[%{FILENAMES} %{FILEFLAGS:fflags}\n]' '$rpm_cfg' | grep -q '^/etc/dcbm.toml cn' &&
  rpm -qp --scripts '$rpm_cfg' | grep -q systemctl"

created=$(sort -u "$state" 2>/dev/null | tr '\n' ' ')
cleanup
cleanup_armed=""
left=""
for p in $created; do [ -e "$p" ] || [ -L "$p" ] && left="$left $p"; done
check "no /lib/modules entries left that this test created (${created:-none})" test -z "$left"
fi # second stage
summary
((fail == 0))
