"""The Raspberry Pi agent: PIR (gpiozero) -> camera with pre-roll (picamera2, or a video file
off the Pi) -> durable spool -> placement (Pi or cloud) -> uploads to the controller.

Modules: ``sensor`` (PIR), ``camera`` (backends), ``recorder`` (motion -> clips),
``spool`` (outbox), ``scheduler`` (placement policies), ``local`` (detection on the Pi),
``uploader`` (HTTP with backoff), ``result_watcher`` (cloud results, controller stats),
``stats`` (round trips), ``agent`` (wiring), ``cli`` / ``install`` / ``simulate``.
"""
