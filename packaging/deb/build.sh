#!/usr/bin/env bash
# Builds the dcbm-dkms and dcbm-config .deb files from this repository.
#
#   packaging/deb/build.sh [OUTDIR]     (default OUTDIR: target/pkg/deb)
#
# Stages the parts of the repository the source package needs, with
# packaging/deb/debian, as target/pkg/dcbm-VERSION/ and runs
# `dpkg-buildpackage -us -uc -b` there; copies the .deb/.changes/.buildinfo
# files to OUTDIR and prints their paths. Compiled crates are cached in
# target/pkg/cargo-target across runs. Set DEB_BUILD_OPTIONS to override
# the default "nocheck" (the crate's tests run in the project's test suite).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$repo/Cargo.toml")
[ -n "$version" ] || { echo "cannot read the workspace version from Cargo.toml" >&2; exit 1; }
chver=$(dpkg-parsechangelog -l "$here/debian/changelog" -S Version)
[ "$chver" = "$version" ] || {
  echo "packaging/deb/debian/changelog is at $chver but the workspace version is $version: add a changelog entry (dch -v $version)" >&2
  exit 1
}

out=${1:-$repo/target/pkg/deb}
pkgroot=$repo/target/pkg
stage=$pkgroot/dcbm-$version
rm -rf "$stage" "$pkgroot"/dcbm_"$version"_* "$pkgroot"/dcbm-*_"$version"_*
mkdir -p "$stage" "$out"

"$here/../stage-source.sh" "$repo" "$stage"
cp -r "$here/debian" "$stage/debian"

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$pkgroot/cargo-target}
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-nocheck}
(cd "$stage" && dpkg-buildpackage -us -uc -b -j"${DCBM_JOBS:-2}") >&2

for f in "$pkgroot"/dcbm-dkms_"$version"_all.deb "$pkgroot"/dcbm-config_"$version"_*.deb \
         "$pkgroot"/dcbm-config-dbgsym_"$version"_*.*deb "$pkgroot"/dcbm_"$version"_*.changes \
         "$pkgroot"/dcbm_"$version"_*.buildinfo; do
  [ -e "$f" ] || continue
  cp "$f" "$out/"
  echo "$out/$(basename "$f")"
done
