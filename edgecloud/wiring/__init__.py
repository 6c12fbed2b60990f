"""What wires components together on one machine: the demo and the local cloud launcher.

Above the components in the layers: it may import edge, controller and worker;
nothing below imports it."""
