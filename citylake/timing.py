"""Seconds per phase of a piece of work: a build, a resolution, one of its steps.

Spark is lazy, so a phase ends with the action that runs it (a count, a checkpoint, a write);
``done(name)`` closes the phase begun at the previous mark. A phase met twice adds up.
"""

from __future__ import annotations

import time
from typing import Callable


class Phases:
    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.seconds: dict[str, float] = {}
        self._clock = clock
        self._started = self._mark = clock()

    def done(self, name: str) -> None:
        now = self._clock()
        self.seconds[name] = round(self.seconds.get(name, 0.0) + now - self._mark, 2)
        self._mark = now

    def elapsed(self) -> float:
        """Seconds since the phases began (the phases' sum and any time not yet in a phase)."""
        return round(self._clock() - self._started, 2)
