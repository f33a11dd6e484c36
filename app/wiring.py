"""Connects the ports through which a higher layer takes part in a lower one's work (app.core.ports):
joint stations into activities and cases, cases into activities. Every entry point calls ``plug_in``
once: the web app, the worker, the command line and the tests."""

from __future__ import annotations


def plug_in() -> None:
    from app.activities import cases_port
    from app.cases import services as case_services
    from app.joint import plug_in as plug_in_joint_stations

    cases_port.cases.plug(case_services)
    plug_in_joint_stations()
    from app.public import invalidation

    invalidation.install()  # commits invalidate the cached public pages
