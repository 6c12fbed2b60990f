#!/usr/bin/env bash
# Fetches real footage where the project's shared folder is absent: OpenCV's
# sample surveillance clip vtest.avi, from Debian/Ubuntu's opencv-doc package.
# The package is downloaded and unpacked here, not installed, so no root is needed.
set -euo pipefail
dest=${1:?usage: fetch-footage.sh DEST}
mkdir -p "$dest"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && apt-get download opencv-doc >/dev/null 2>&1); then
  echo "apt-get download opencv-doc failed; running apt-get update (needs root)" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -q >/dev/null; else sudo apt-get update -q >/dev/null; fi
  (cd "$work" && apt-get download opencv-doc)
fi
dpkg-deb -x "$work"/opencv-doc_*.deb "$work/root"
src=$(find "$work/root" -name 'vtest.avi*' | head -n 1)
[ -n "$src" ] || { echo "vtest.avi not found in opencv-doc" >&2; exit 1; }
case "$src" in
  *.gz) gunzip -c "$src" > "$dest/vtest.avi" ;;
  *) cp "$src" "$dest/vtest.avi" ;;
esac
echo "footage: $dest/vtest.avi"
