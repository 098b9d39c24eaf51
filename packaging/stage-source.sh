#!/usr/bin/env bash
# Copies what both packages are built from into STAGE: the workspace
# reduced to dcbm-config (with its tests, which the package builds' test
# steps run, and the READMEs they check), the module source (never build
# products of the working tree), the DKMS files, the example policies and
# the packaging README. Then makes sure cargo's registry cache holds every
# crate Cargo.lock pins for this machine (`cargo fetch --locked`: the
# network only when one is missing), since the package builds run cargo
# --locked --offline. Used by deb/build.sh and rpm/build.sh.
#
#   stage-source.sh REPO STAGE
set -euo pipefail
repo=$1 stage=$2
mkdir -p "$stage"/{dcbm-config,driver,dkms,examples,packaging}
sed 's/^members *=.*/members = ["dcbm-config"]/' "$repo/Cargo.toml" >"$stage/Cargo.toml"
cp "$repo/Cargo.lock" "$repo/README.md" "$stage/"
(cd "$repo/dcbm-config" && cp -r Cargo.toml src dist man tests README.md "$stage/dcbm-config/")
(cd "$repo/driver" && for f in Kbuild Makefile *.rs *.c *.h; do
  case $f in *.mod.c|'*.h') continue ;; esac
  cp "$f" "$stage/driver/"
done)
cp "$repo/dkms/dkms.conf" "$repo/dkms/dcbm-prebuild-check" "$stage/dkms/"
cp "$repo"/examples/*.toml "$stage/examples/"
cp "$repo/packaging/README.md" "$stage/packaging/"
host=$(rustc -vV | sed -n 's/^host: //p')
cargo fetch --locked --manifest-path "$stage/Cargo.toml" --target "$host" >&2
