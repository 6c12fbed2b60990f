"""``edgecloud edge install``: the unit, a config, the token, the user, and ``systemctl enable --now``.

The device's token goes to ``/etc/edgecloud/token``, mode 0640, owner
root:<agent user>: the agent can read it, other users cannot, and only root
can change it.

Everything is written under ``root`` (``/`` on a Pi), so packaging and tests
can install into a scratch directory; commands run only for a real install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator, Optional

from edgecloud.config import Settings, dump

UNIT_NAME = "edgecloud-edge.service"
UNIT_TEMPLATE = Path(__file__).parent / "systemd" / UNIT_NAME
CONFIG_PATH = Path("/etc/edgecloud/config.yaml")
TOKEN_PATH = Path("/etc/edgecloud/token")
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


def agent_config(settings: Settings, controller_url: Optional[str], device_id: Optional[str] = None) -> str:
    """The settings with the edge's paths under the state directory, as YAML."""
    edge = settings.edge.model_validate(
        {
            **settings.edge.model_dump(),
            "spool_dir": STATE_DIR / "spool",
            "stats_path": STATE_DIR / "edge-stats.sqlite",
            "token_file": TOKEN_PATH,
            **({"controller_url": controller_url} if controller_url else {}),
            **({"device_id": device_id} if device_id else {}),
        }
    )
    return dump(settings.model_copy(update={"edge": edge}))


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by owner and group only, from its first byte."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fh.fileno(), 0o640)  # an existing file keeps its old mode through O_CREAT; the umask may trim it
        fh.write(text)


def install(
    settings: Settings,
    *,
    root: Path = Path("/"),
    user: Optional[str] = None,
    controller_url: Optional[str] = None,
    dry_run: bool = False,
    force: bool = False,
    token: Optional[str] = None,
    device_id: Optional[str] = None,
) -> Iterator[str]:
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
            config_path.write_text(agent_config(settings, controller_url, device_id))
        yield f"{verb} {config_path}"
    token_path = root / str(TOKEN_PATH).lstrip("/")
    if token is not None:
        token = token.strip()
        if not token or any(c.isspace() for c in token):
            raise ValueError("the token must be one word (as `edgecloud devices add` printed it)")
        if not dry_run:
            write_secret(token_path, token + "\n")
        yield f"{verb} {token_path} (mode 0640)"
    elif not token_path.exists():
        yield (
            f"no token at {token_path}: pass --token-file (from `edgecloud devices add`), or the controller answers 401"
        )

    commands = [
        [
            "useradd",
            "--system",
            "--user-group",
            "--home-dir",
            str(STATE_DIR),
            "--shell",
            "/usr/sbin/nologin",
            "--groups",
            "gpio,video",
            user,
        ],
        *([["chown", f"root:{user}", str(TOKEN_PATH)]] if token is not None else []),
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
