#!/usr/bin/env bash
# Prints the folder holding vtest.avi: the first of the given folders that has it.
set -euo pipefail
for dir in "$@"; do
  if [ -f "$dir/vtest.avi" ]; then
    (cd "$dir" && pwd)
    exit 0
  fi
done
echo "no footage in: $*" >&2
exit 1
