"""edgecloud: the code edge, controller and worker share (config, messages, AWS seam, detection)."""

__version__ = "0.1.0"
