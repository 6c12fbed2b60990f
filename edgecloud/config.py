"""Settings for every component, loaded from one ``config.yaml`` (the schema: edgecloud/settings.py).

Order of precedence (last wins): built-in defaults, the YAML file, then
environment variables ``EDGECLOUD_<SECTION>__<KEY>`` (e.g.
``EDGECLOUD_AWS__ENDPOINT_URL``). Values from the environment are parsed as
YAML scalars, so ``EDGECLOUD_AUTOSCALER__MAX_WORKERS=4`` is an int.

Unknown keys are rejected, and a bad value fails at start with the dotted key
that is wrong (``edge.clip_seconds: Input should be greater than 0``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .scene_settings import unknown_rule_zones
from .settings import (  # the schema, re-exported: every component imports it from here
    AutoscalerSettings,
    AwsSettings,
    ControllerSettings,
    DetectorSettings,
    EdgeSettings,
    FleetSettings,
    FunctionSettings,
    InfraSettings,
    NotifyRule,
    NotifySettings,
    QueueSettings,
    Section,
    Settings,
    StorageSettings,
    TableSettings,
    WorkerSettings,
)

__all__ = [
    "AwsSettings",
    "StorageSettings",
    "TableSettings",
    "QueueSettings",
    "DetectorSettings",
    "WorkerSettings",
    "FleetSettings",
    "FunctionSettings",
    "AutoscalerSettings",
    "ControllerSettings",
    "EdgeSettings",
    "InfraSettings",
    "Settings",
    "NotifyRule",
    "NotifySettings",
    "Section",
    "ConfigError",
    "from_dict",
    "load",
    "dump",
    "documented_yaml",
]

ENV_PREFIX = "EDGECLOUD_"
CONFIG_ENV = "EDGECLOUD_CONFIG"


class ConfigError(ValueError):
    """A setting is missing, unknown or out of range; the message names the key."""


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    """EDGECLOUD_SECTION__KEY=value -> {"section": {"key": value}}."""
    tree: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name or name == CONFIG_ENV:
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
        try:
            node[path[-1]] = yaml.safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            node[path[-1]] = raw
    return tree


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _describe(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = "unknown setting" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"{key}: {msg}")
    return "; ".join(lines)


def from_dict(data: dict[str, Any]) -> Settings:
    try:
        settings = Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(f"bad setting: {_describe(err)}") from None
    unknown = unknown_rule_zones(settings)
    if unknown:
        raise ConfigError(f"bad setting: {'; '.join(unknown)}")
    return settings


def load(path: str | Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Defaults <- YAML file <- environment. ``path`` None: $EDGECLOUD_CONFIG, else none."""
    environ = dict(os.environ if environ is None else environ)
    path = path or environ.get(CONFIG_ENV)
    data: dict[str, Any] = {}
    if path:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{path}: not valid YAML: {err}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return from_dict(_merge(data, _env_overrides(environ)))


def dump(settings: Settings) -> str:
    """YAML of the settings, e.g. to hand a worker its config through user-data."""
    return yaml.safe_dump(settings.model_dump(mode="json"), sort_keys=False)


def documented_yaml(settings: Settings | None = None) -> str:
    """The settings as YAML with each field's description as a comment (config.yaml's source)."""
    settings = settings or Settings()
    lines = [
        "# edgecloud configuration. Every setting, its default and what it means.",
        "# Override any of them with EDGECLOUD_<SECTION>__<KEY>, e.g. EDGECLOUD_AWS__ENDPOINT_URL.",
        "# Choose the file with --config PATH or EDGECLOUD_CONFIG.",
        "",
    ]
    for section_name, _field in Settings.model_fields.items():
        section = getattr(settings, section_name)
        doc = (type(section).__doc__ or "").strip().splitlines()
        lines.append(f"{section_name}:" + (f"  # {doc[0]}" if doc else ""))
        values = section.model_dump(mode="json")
        for name, info in type(section).model_fields.items():
            if info.description:
                lines.append(f"  # {info.description}")
            rendered = yaml.safe_dump({name: values[name]}, default_flow_style=True, width=200).strip()
            lines.append("  " + rendered[1:-1] if rendered.startswith("{") else "  " + rendered)
        lines.append("")
    return "\n".join(lines)
