"""The shared loop pieces: pass counts."""

from __future__ import annotations

import pytest


def test_a_tally_reads_its_outcomes_and_refuses_others():
    from edgecloud.loops import Tally

    class Counts(Tally):
        outcomes = ("done", "failed")

    counts = Counts()
    counts.add("done")
    counts.add("done", 2)
    assert (counts.done, counts.failed) == (3, 0)
    with pytest.raises(ValueError, match="not 'dnoe'"):
        counts.add("dnoe")
    with pytest.raises(AttributeError):
        counts.dnoe  # noqa: B018 - the attribute lookup is what raises
