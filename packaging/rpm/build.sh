#!/usr/bin/env bash
# Builds the dkms-dcbm and dcbm-config RPMs (and the SRPM) from this
# repository with rpmbuild, also on Debian, then runs rpmlint on them.
#
#   packaging/rpm/build.sh [OUTDIR]     (default OUTDIR: target/pkg/rpm)
#
# Makes Source0 (dcbm-VERSION.tar.gz: the parts of the repository the spec
# needs) and runs `rpmbuild -ba` in a temporary _topdir. On a non-RPM
# distribution the BuildRequires (Fedora names) cannot be checked, so
# --nodeps is passed there, and no -debuginfo package is made (Debian's rpm
# lacks find-debuginfo). Prints the paths of the packages; exits non-zero
# if rpmbuild fails or rpmlint reports an error.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$repo/Cargo.toml")
specver=$(sed -n 's/^Version: *//p' "$here/dcbm.spec")
[ "$specver" = "$version" ] || {
  echo "packaging/rpm/dcbm.spec is at $specver but the workspace version is $version: update Version and %changelog" >&2
  exit 1
}

out=${1:-$repo/target/pkg/rpm}
top=$(mktemp -d "${TMPDIR:-/tmp}/dcbm-rpmbuild.XXXXXX")
trap 'rm -rf "$top"' EXIT
rm -f "$out"/*-"$version"-*.rpm
mkdir -p "$top"/{SOURCES,SPECS,BUILD,RPMS,SRPMS} "$out"
stage=$top/stage/dcbm-$version
"$here/../stage-source.sh" "$repo" "$stage"
cp "$repo/packaging/deb/debian/copyright" "$stage/COPYRIGHT"
tar -C "$top/stage" --owner=0 --group=0 --sort=name -czf "$top/SOURCES/dcbm-$version.tar.gz" "dcbm-$version"
cp "$here/dcbm.spec" "$top/SPECS/"

args=(--define "_topdir $top")
if ! command -v dnf >/dev/null && ! command -v yum >/dev/null; then
  args+=(--nodeps --define "debug_package %{nil}")
fi
# Reuse compiled crates across runs (the spec builds in its own directory),
# and share them with packaging/deb/build.sh: the same profile (the spec
# and debian/rules both ask for limited debug info), so the crates compile
# once for both packages.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target/pkg/cargo-target}
args+=(--define "dcbm_target_dir $CARGO_TARGET_DIR")
rpmbuild "${args[@]}" -ba "$top/SPECS/dcbm.spec" >&2

find "$top/RPMS" "$top/SRPMS" -name '*.rpm' -exec cp {} "$out/" \;
for f in "$out"/*-"$version"-*.rpm; do echo "$f"; done
echo "rpmlint:" >&2
rpmlint -r "$here/dcbm.rpmlintrc" "$out"/*-"$version"-*.rpm >&2
