"""The systemd unit shipped with the agent (data only)."""
