#!/usr/bin/env bash
# The whole test suite, as the README gives it and .ci/run runs it: `cargo test` of the
# workspace (saslguard and the generator in gen/), then
# the list of tests skipped for want of something on this machine (root, postmap, a
# browser, ...), where a person sees it instead of in stderr cargo swallows. In CI
# (CI=true, or SASLGUARD_REQUIRE_ALL=1) nothing is skipped: a missing need fails its test.
set -uo pipefail
cd "$(dirname "$0")/.."
skips="${CARGO_TARGET_DIR:-target}/tmp/saslguard-skips"
rm -rf "$skips"
cargo test --locked --workspace "$@"
status=$?
if [ -d "$skips" ] && [ -n "$(ls -A "$skips" 2>/dev/null)" ]; then
    echo
    echo "skipped for want of something on this machine (install it, or run as root):"
    sort -u "$skips"/* | sed 's/^/  /'
fi
exit "$status"
