"""config.yaml's source: every setting with its default and, as a comment, what it means."""
from __future__ import annotations

import yaml

from .config import Settings


def documented_yaml(settings: Settings | None = None) -> str:
    """The settings as YAML with each field's description as a comment (config.yaml's source)."""
    settings = settings or Settings()
    lines = ["# edgecloud configuration. Every setting, its default and what it means.",
             "# Override any of them with EDGECLOUD_<SECTION>__<KEY>, e.g. EDGECLOUD_AWS__ENDPOINT_URL.",
             "# Choose the file with --config PATH or EDGECLOUD_CONFIG.", ""]
    for section_name, field in Settings.model_fields.items():
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
