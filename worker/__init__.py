"""A cloud worker: long-polls jobs, analyses clips, writes results, retires when idle."""
