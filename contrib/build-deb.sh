#!/usr/bin/env bash
# Builds the Debian package of saslguard with dpkg-deb (no other tool needed).
#
# Usage:  bash contrib/build-deb.sh [BINARY] [OUTDIR]
#         (defaults: target/release/saslguard, built if missing; target/debian)
#
# The package installs the binary, the default config as a conffile, the systemd
# service and timer, the man page and bash/zsh/fish completions (both generated from
# the binary itself), and creates /var/lib/saslguard. DEB_COMPRESSION (xz) picks the
# compression (tests use none).
set -euo pipefail
cd "$(dirname "$0")/.."
BINARY=${1:-target/release/saslguard}
OUT=${2:-target/debian}
if [ ! -x "$BINARY" ]; then
    cargo build --release --locked
fi
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
ARCH=$(dpkg --print-architecture)
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT

# Stripped: the debug line tables make the binary ~40 MB.
install -D -s -m 755 "$BINARY" "$ROOT/usr/bin/saslguard"
install -D -m 644 src/default-config.toml "$ROOT/etc/saslguard/saslguard.toml"
install -D -m 644 contrib/saslguard.service "$ROOT/lib/systemd/system/saslguard.service"
install -D -m 644 contrib/saslguard.timer "$ROOT/lib/systemd/system/saslguard.timer"
install -d -m 750 "$ROOT/var/lib/saslguard"
install -d "$ROOT/usr/share/man/man1" "$ROOT/usr/share/bash-completion/completions" \
    "$ROOT/usr/share/zsh/vendor-completions" "$ROOT/usr/share/fish/vendor_completions.d" \
    "$ROOT/usr/share/doc/saslguard"
# saslguard.1 and one page per subcommand (saslguard.1 refers to them).
"$BINARY" man --dir "$ROOT/usr/share/man/man1"
gzip -9n "$ROOT"/usr/share/man/man1/*.1
chmod 644 "$ROOT"/usr/share/man/man1/*.1.gz
"$BINARY" completions bash > "$ROOT/usr/share/bash-completion/completions/saslguard"
"$BINARY" completions zsh > "$ROOT/usr/share/zsh/vendor-completions/_saslguard"
"$BINARY" completions fish > "$ROOT/usr/share/fish/vendor_completions.d/saslguard.fish"
install -m 644 README.md "$ROOT/usr/share/doc/saslguard/README.md"

mkdir -p "$ROOT/DEBIAN"
cat > "$ROOT/DEBIAN/control" <<CONTROL
Package: saslguard
Version: $VERSION
Architecture: $ARCH
Maintainer: saslguard maintainers <root@localhost>
Section: mail
Priority: optional
Depends: libc6
Recommends: postfix, nftables | ipset | iptables
Description: stops SMTP AUTH brute force on Postfix
 Reads the mail log (or the journal) incrementally into SQLite, ranks the addresses
 that fail to authenticate, and blocks them in the Postfix access map and the
 firewall (nftables, ipset or iptables), with expiry, unblock and an allowlist.
CONTROL
echo /etc/saslguard/saslguard.toml > "$ROOT/DEBIAN/conffiles"

mkdir -p "$OUT"
dpkg-deb --root-owner-group -Z"${DEB_COMPRESSION:-xz}" --build "$ROOT" "$OUT/saslguard_${VERSION}_${ARCH}.deb" >/dev/null
echo "$OUT/saslguard_${VERSION}_${ARCH}.deb"
