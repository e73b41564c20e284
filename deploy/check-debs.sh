#!/usr/bin/env bash
# Installs the two packages that deploy/build-debs.sh made (with apt, as deploy/README.md
# says), runs the installed relay as its own user with the settings the package ships
# until /healthz answers, uses it with the installed kith, then purges both and checks
# that nothing is left. Needs root and apt; `.ci/run` runs it. It changes the machine
# (installs, then purges): run it where that is fine.
set -euo pipefail
cd "$(dirname "$0")/.."
debs="${CARGO_TARGET_DIR:-target}/debian"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$(realpath "$debs"/kith-relay_*_amd64.deb)" \
  "$(realpath "$debs"/kith_*_amd64.deb)"
for bin in kith-relay kith; do
  version="$("$bin" --version)"
  grep -q "commit [0-9a-f]\{12\}" <<<"$version" || { echo "$version: no commit" >&2; exit 1; }
done
man -w kith-relay >/dev/null 2>&1 || [ -f /usr/share/man/man1/kith-relay.1.gz ]
runuser -u kith-relay -- kith-relay --config /etc/kith-relay/relay.toml check
port=17878
runuser -u kith-relay -- kith-relay --config /etc/kith-relay/relay.toml \
  --listen "127.0.0.1:$port" --metrics-listen off >/dev/null 2>&1 &
relay_pid=$!
for _ in $(seq 100); do
  if kith-relay --listen "127.0.0.1:$port" healthcheck >/dev/null 2>&1; then break; fi
  sleep 0.2
done
kith-relay --listen "127.0.0.1:$port" healthcheck
client="$(mktemp -d)"
export KITH_PASSPHRASE="a long passphrase for the package check"
KITH_CREATION_SECRET="$(cat /etc/kith-relay/creation-secret)" kith --home "$client" init --name Packaged >/dev/null
KITH_CREATION_SECRET="$(cat /etc/kith-relay/creation-secret)" \
  kith --home "$client" group create Packaged --relay "ws://127.0.0.1:$port" >/dev/null
kith --home "$client" send Packaged "from the installed packages" >/dev/null
read="$(kith --home "$client" read Packaged --all)"
grep -q "from the installed packages" <<<"$read" || { echo "$read" >&2; exit 1; }
unset KITH_PASSPHRASE
kill -TERM "$relay_pid"
wait "$relay_pid" || true
purged="$(DEBIAN_FRONTEND=noninteractive apt-get purge -y kith-relay kith 2>&1)"
grep -q "deleting /var/lib/kith-relay" <<<"$purged" || { echo "$purged" >&2; exit 1; }
for left in /usr/bin/kith-relay /usr/bin/kith /etc/kith-relay /var/lib/kith-relay \
  /lib/systemd/system/kith-relay.service /usr/lib/systemd/system/kith-relay.service \
  /etc/systemd/system/multi-user.target.wants/kith-relay.service \
  /usr/share/man/man1/kith-relay.1.gz /usr/share/man/man1/kith.1.gz \
  /usr/share/bash-completion/completions/kith /usr/share/doc/kith-relay; do
  if [ -e "$left" ]; then echo "left after purge: $left" >&2; exit 1; fi
done
echo "packages: installed, ran, purged; nothing left (the kith-relay user stays, as Debian does)"
