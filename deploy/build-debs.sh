#!/usr/bin/env bash
# Builds the two Debian packages, kith-relay_VERSION-1_amd64.deb and kith_VERSION-1_amd64.deb,
# into target/debian/ (see deploy/README.md, "4. Install the relay").
#
# Needs a Rust toolchain (rustup) and build-essential; installs the cargo-deb tool if it
# is missing. Build on the Debian/Ubuntu release the packages are for, or an older one:
# the binaries need the C library of the machine they were built on, or a newer one.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
target="${CARGO_TARGET_DIR:-target}"
# What the packages' metadata (server/Cargo.toml, client-cli/Cargo.toml) takes besides
# the binaries: generated here, whatever the target directory (not under target/, which
# cargo-deb reserves for what cargo builds; git ignores it).
assets=deploy/debian/generated

if ! command -v cargo-deb >/dev/null 2>&1; then
  # Unoptimized: it runs for seconds, and builds in half the time.
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --debug
fi
cargo build --release --locked -p kith -p kith-relay

rm -rf "$assets" "$target"/debian/*.deb
mkdir -p "$assets/relay/scripts" "$assets/kith"
# Man pages and completions from the binaries' own command-line definitions.
"$target/release/kith-relay" generate-docs "$assets/relay"
"$target/release/kith" generate-docs "$assets/kith"
gzip -9n "$assets"/relay/man/*.1 "$assets"/kith/man/*.1
# The maintainer scripts, and the unit with the package's binary path (the unit in
# deploy/ is for a binary installed by hand under /usr/local/bin).
cp deploy/debian/postinst deploy/debian/postrm "$assets/relay/scripts/"
{
  echo "# The Kith relay's systemd unit, installed by the kith-relay package (its source,"
  echo "# with every setting explained: deploy/kith-relay.service in the Kith source)."
  echo "# Change it with \`sudo systemctl edit kith-relay\`, not here."
  sed -e '1,/^$/d' -e 's#/usr/local/bin/kith-relay#/usr/bin/kith-relay#g' deploy/kith-relay.service
} > "$assets/relay/scripts/kith-relay.service"

cargo deb --no-build -p kith-relay
cargo deb --no-build -p kith
ls -l "$target"/debian/*.deb
