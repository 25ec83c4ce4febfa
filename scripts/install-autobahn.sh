#!/usr/bin/env bash
# Installs the Autobahn TestSuite (`wstest`, PyPI autobahntestsuite 0.8.2) for
# `make conformance` and the quick set in `make test`. wstest runs only on
# Python 2.7: it goes into a Python 2.7 virtualenv at .autobahn/venv, made by
# virtualenv 20.21.1 (the last release that can create a 2.7 environment),
# itself installed with python3's pip into .autobahn/virtualenv. Every
# package is pinned in tests/conformance/requirements-wstest.txt.
# Safe to run again: does nothing when wstest is already there.
#
# Python 2.7 is looked for as $PYTHON27, then under pyenv, then on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
# Python 2.7 and its last packages warn about their age at every start.
export PYTHONWARNINGS=ignore

dir=.autobahn
wstest=$dir/venv/bin/wstest
reqs=tests/conformance/requirements-wstest.txt
stamp=$dir/venv/.requirements

if [ -x "$wstest" ] && cmp -s "$reqs" "$stamp"; then
  exit 0
fi

python27=${PYTHON27:-}
if [ -z "$python27" ] && command -v pyenv >/dev/null 2>&1; then
  for v in "$(pyenv root)"/versions/2.7.*; do
    [ -x "$v/bin/python2.7" ] && python27=$v/bin/python2.7
  done
fi
if [ -z "$python27" ]; then
  python27=$(command -v python2.7 || true)
fi
if [ -z "$python27" ]; then
  echo "install-autobahn: no Python 2.7 found (set PYTHON27, or install 2.7 with pyenv)" >&2
  exit 1
fi

echo "install-autobahn: wstest into $dir/venv with $python27"
rm -rf "$dir/venv"
mkdir -p "$dir"
if [ ! -x "$dir/virtualenv/bin/virtualenv" ]; then
  python3 -m pip install -q --disable-pip-version-check --target "$dir/virtualenv/lib" virtualenv==20.21.1
  mkdir -p "$dir/virtualenv/bin"
  cat > "$dir/virtualenv/bin/virtualenv" <<'EOF'
#!/usr/bin/env bash
here=$(cd "$(dirname "$0")/.." && pwd)
PYTHONPATH="$here/lib" exec python3 -m virtualenv "$@"
EOF
  chmod +x "$dir/virtualenv/bin/virtualenv"
fi
"$dir/virtualenv/bin/virtualenv" -q -p "$python27" --no-periodic-update "$dir/venv"
# Every dependency is pinned in the file, so nothing else is resolved.
"$dir/venv/bin/pip" install -q --disable-pip-version-check --no-python-version-warning \
  --no-deps -r "$reqs"
"$wstest" --help >/dev/null 2>&1
cp "$reqs" "$stamp"
echo "install-autobahn: $("$wstest" --autobahnversion 2>/dev/null | tail -1)"
