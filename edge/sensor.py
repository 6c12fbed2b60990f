"""The PIR sensor: gpiozero's ``MotionSensor`` on the configured pin.

On a Pi gpiozero picks the real pin factory; tests pass
``gpiozero.pins.mock.MockFactory()`` as ``pin_factory`` (never a process-wide
default) and drive the pin with ``factory.pin(n).drive_high()``.
"""

from __future__ import annotations

from gpiozero import MotionSensor


def create_motion_sensor(settings, pin_factory=None, *, sample_rate: float = 20) -> MotionSensor:
    """A ``MotionSensor`` for ``EdgeSettings``: one sample decides (the PIR does its own filtering)."""
    return MotionSensor(settings.pir_pin, queue_len=1, sample_rate=sample_rate, threshold=0.5, pin_factory=pin_factory)


def wait_until_sampling(sensor: MotionSensor, timeout: float = 5.0) -> bool:
    """Block until the sensor's sample queue has filled: events fire only after that."""
    queue = getattr(sensor, "_queue", None)
    full = getattr(queue, "full", None)
    return full.wait(timeout) if full is not None else True
