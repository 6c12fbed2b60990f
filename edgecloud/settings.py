"""What can be set: every section of ``config.yaml``, each field with its default and meaning.

The schema only; reading files and the environment is ``edgecloud.config``'s job.
``edgecloud config defaults`` prints this schema as the documented ``config.yaml``.
Each section lives beside the component that owns it (``aws_settings``, ``detector_settings``,
``fleet_settings``, ``controller_settings``, ``front_settings``, ``edge_settings``, ``notify_settings``,
``limits_settings``, ``scene_settings``); this module gathers them, in the order the file lists them.
"""

from __future__ import annotations

from pydantic import Field, create_model

from .aws_settings import AwsSettings, InfraSettings, QueueSettings, StorageSettings, TableSettings
from .controller_settings import ControllerSettings
from .detector_settings import DetectorSettings
from .edge_settings import EdgeSettings
from .fleet_settings import AutoscalerSettings, FleetSettings, FunctionSettings, WorkerSettings
from .limits_settings import LimitsSettings
from .notify_settings import NotifyRule, NotifySettings
from .scene_settings import EventSettings, ZoneSettings
from .sections import Section

__all__ = [  # re-exported: the schema is imported from here (or edgecloud.config)
    "AutoscalerSettings",
    "AwsSettings",
    "ControllerSettings",
    "DetectorSettings",
    "EdgeSettings",
    "EventSettings",
    "FleetSettings",
    "FunctionSettings",
    "InfraSettings",
    "LimitsSettings",
    "NotifyRule",
    "NotifySettings",
    "QueueSettings",
    "SECTIONS",
    "Section",
    "Settings",
    "StorageSettings",
    "TableSettings",
    "WorkerSettings",
    "ZoneSettings",
]

# The sections of config.yaml, in the order the file lists them.
SECTIONS: dict[str, type[Section]] = {
    "aws": AwsSettings,
    "storage": StorageSettings,
    "tables": TableSettings,
    "queues": QueueSettings,
    "detector": DetectorSettings,
    "worker": WorkerSettings,
    "fleet": FleetSettings,
    "function": FunctionSettings,
    "autoscaler": AutoscalerSettings,
    "controller": ControllerSettings,
    "edge": EdgeSettings,
    "infra": InfraSettings,
    "notify": NotifySettings,
    "limits": LimitsSettings,
    "zones": ZoneSettings,
    "events": EventSettings,
}

# Every section, each defaulting to its own defaults: ``settings.edge.device_id`` and so on.
Settings = create_model(
    "Settings",
    __base__=Section,
    __module__=__name__,
    **{name: (cls, Field(default_factory=cls)) for name, cls in SECTIONS.items()},
)
