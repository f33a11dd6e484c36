"""Ports: how a higher layer takes part in a lower one's work without the lower one importing it.

Joint stations (app.joint) sit above activities and cases, yet an attendance change at a joint station
must roll up into the deputies' counties, its reminders be relayed there, and a referred case's steps
be mirrored back. The lower domain names what it needs in a ``Port``; app.joint plugs its functions
in (``app.wiring.plug_in()``, called by every entry point: the web app, the worker, the command
line, the tests). A lower domain asks the port only where the other side exists (a joint tenant, a referred
case), and an unplugged port then fails loudly instead of silently skipping the other side's work.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class Port(Generic[T]):
    def __init__(self, name: str):
        self.name = name
        self._impl: T | None = None

    def plug(self, impl: T) -> None:
        self._impl = impl

    def __call__(self) -> T:
        if self._impl is None:
            raise RuntimeError(f"{self.name} is not plugged in: the entry point must call app.wiring.plug_in()")
        return self._impl
