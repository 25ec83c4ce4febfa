#!/usr/bin/env bash
# Installs what the tests and the demo need on a fresh Debian 12 machine:
# Debian packages (as root; redis-server for the cluster tests, which start
# their own instances and never the system service), a Python venv at .venv, and the Node packages
# of the interop tests. Safe to run again: each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_pkgs=(chromium nginx redis-server redis-tools mono-mcs mono-runtime libmono-system-net-http4.0-cil valgrind cmake pkg-config g++ openssl curl)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: need root to apt-get install: ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-dev.txt

if [ ! -d tests/interop/node/node_modules ]; then
  (cd tests/interop/node && npm ci --silent --no-audit --no-fund)
fi

# wstest (the Autobahn TestSuite, Python 2.7) for `make conformance` and the
# quick set in `make test`.
bash scripts/install-autobahn.sh
