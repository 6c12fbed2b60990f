"""``edgecloud edge install``: the unit, a config, the user, and ``systemctl enable --now``.

Everything is written under ``root`` (``/`` on a Pi), so packaging and tests
can install into a scratch directory; commands run only for a real install.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Optional

from edgecloud.config import Settings, dump

UNIT_NAME = "edgecloud-edge.service"
UNIT_TEMPLATE = Path(__file__).parent / "systemd" / UNIT_NAME
CONFIG_PATH = Path("/etc/edgecloud/config.yaml")
STATE_DIR = Path("/var/lib/edgecloud")


def executable() -> str:
    """The ``edgecloud`` command of this installation (absolute, as systemd needs)."""
    found = Path(sys.executable).parent / "edgecloud"
    return str(found) if found.exists() else shutil.which("edgecloud") or f"{sys.executable} -m edgecloud.cli"


def render_unit(user: str, config_path: Path = CONFIG_PATH, exec_start: Optional[str] = None) -> str:
    """The shipped unit with this installation's user, config and command."""
    lines = []
    for line in UNIT_TEMPLATE.read_text().splitlines():
        key = line.split("=", 1)[0]
        if key == "User":
            line = f"User={user}"
        elif key == "Group":
            line = f"Group={user}"
        elif line.startswith("Environment=EDGECLOUD_CONFIG="):
            line = f"Environment=EDGECLOUD_CONFIG={config_path}"
        elif key == "ExecStart":
            line = f"ExecStart={exec_start or executable()} edge run"
        lines.append(line)
    return "\n".join(lines) + "\n"


def agent_config(settings: Settings, controller_url: Optional[str]) -> str:
    """The settings with the edge's paths under the state directory, as YAML."""
    edge = settings.edge.model_copy(update={
        "spool_dir": STATE_DIR / "spool",
        "stats_path": STATE_DIR / "edge-stats.sqlite",
        **({"controller_url": controller_url} if controller_url else {}),
    })
    return dump(settings.model_copy(update={"edge": edge}))


def install(settings: Settings, *, root: Path = Path("/"), user: Optional[str] = None,
            controller_url: Optional[str] = None, dry_run: bool = False, force: bool = False) -> Iterator[str]:
    """Install; yields a line per step taken (or, with ``dry_run``, that would be taken)."""
    user = user or settings.edge.user
    if user == "root":
        raise ValueError("the agent must not run as root: pick another user")
    root = Path(root)
    unit_path = root / "etc/systemd/system" / UNIT_NAME
    config_path = root / str(CONFIG_PATH).lstrip("/")
    real = root.resolve() == Path("/").resolve()
    verb = "would write" if dry_run else "wrote"

    if not dry_run:
        unit_path.parent.mkdir(parents=True, exist_ok=True)
        unit_path.write_text(render_unit(user))
    yield f"{verb} {unit_path}"
    if config_path.exists() and not force:
        yield f"kept existing {config_path} (--force to overwrite)"
    else:
        if not dry_run:
            config_path.parent.mkdir(parents=True, exist_ok=True)
            config_path.write_text(agent_config(settings, controller_url))
        yield f"{verb} {config_path}"

    commands = [
        ["useradd", "--system", "--user-group", "--home-dir", str(STATE_DIR), "--shell", "/usr/sbin/nologin",
         "--groups", "gpio,video", user],
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "--now", UNIT_NAME],
    ]
    for command in commands:
        if command[0] == "useradd" and _user_exists(user):
            yield f"user {user} exists"
            continue
        if dry_run or not real:
            yield f"would run: {' '.join(command)}"
            continue
        subprocess.run(command, check=True)
        yield f"ran: {' '.join(command)}"


def _user_exists(user: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(user)
        return True
    except KeyError:
        return False
