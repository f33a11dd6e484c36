"""Moments shown to people, in the tenant's zone. The database hands back aware datetimes in UTC, so
``at.strftime`` or ``at.date()`` on them shows the UTC day: a stationing at 07:30 on 1 March in
Shanghai would read 28 February. Templates write ``{{ at|local }}`` or ``{{ at|local("%Y-%m-%d") }}``
instead; the zone is the page's tenant's (the platform's, Asia/Shanghai, on pages of no tenant)."""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from jinja2 import pass_context

from app.core.periods import zone

STAMP = "%Y-%m-%d %H:%M"


def to_local(at: datetime | date | str | None, tz: tzinfo, fmt: str = STAMP) -> str:
    """``at`` in ``tz`` as ``fmt``; "" for None. ISO text (a timestamp kept in JSON) is read first; a
    date, or a datetime without a zone (already local), is shown as it is."""
    if at is None or at == "":
        return ""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if isinstance(at, datetime) and at.tzinfo is not None:
        at = at.astimezone(tz)
    return at.strftime(fmt)


@pass_context
def local_filter(context, at: datetime | date | str | None, fmt: str = STAMP) -> str:
    """The ``local`` filter: ``at`` in the zone of the tenant the page is about."""
    return to_local(at, zone(getattr(context.get("tenant"), "timezone", None)), fmt)
