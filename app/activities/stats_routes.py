"""The activity statistics page, /t/{tenant_slug}/activities/stats: a year's activities by kind and
month and people received per month (server-rendered SVG, the same style as the case statistics),
and the figures per station and per kind as tables."""

from __future__ import annotations

from litestar import Request, Response, get

from app.activities import queries, stats
from app.core import charts
from app.core.i18n import gettext, lazy
from app.core.web import page
from app.tenancy.access import TenantContext

OTHER_KINDS = lazy("Other kinds")
KIND_CHART_TITLE = lazy("Activities held by kind and month, %(year)s")
KIND_CHART_DESC = lazy("Stacked bars, one per month: %(total)s activities held in all. The table below gives the same figures.")
PEOPLE_CHART_TITLE = lazy("People received at activities by month, %(year)s")
PEOPLE_CHART_DESC = lazy("One bar per month: %(total)s people received in all. The table below gives the same figures.")
PEOPLE_SERIES = lazy("People received")


def _charts(s: stats.ActivityStats) -> tuple[str, str]:
    labels = [str(m) for m in s.months]
    series = charts.top_series(s.kinds, s.matrix, s.months, gettext(OTHER_KINDS))
    kinds = charts.stacked_bars(labels, series, chart_id="activities-chart",
                                title=gettext(KIND_CHART_TITLE, year=s.year), desc=gettext(KIND_CHART_DESC, total=s.held))
    people = charts.stacked_bars(labels, [(gettext(PEOPLE_SERIES), [s.people_by_month.get(m, 0) for m in s.months])],
                                 chart_id="people-chart", title=gettext(PEOPLE_CHART_TITLE, year=s.year),
                                 desc=gettext(PEOPLE_CHART_DESC, total=s.people))
    return kinds, people


@get("/activities/stats")
async def activity_stats(request: Request, ctx: TenantContext) -> Response:
    scope = await ctx.scope()
    stats.require_stats(scope)
    this_year = ctx.today().year
    f = stats.Filters.read(request.query_params, this_year)
    s = await stats.build_stats(ctx.db, scope, f, ctx.tenant.timezone)
    stations, kinds = await queries.filter_choices(ctx.db, scope)
    kind_chart, people_chart = _charts(s) if s.held else ("", "")
    return page(request, "activities/stats.html", s=s, f=f, base=ctx.base, stations=stations, kinds=kinds,
                years=range(this_year, this_year - 5, -1), kind_chart=kind_chart, people_chart=people_chart)


route_handlers = [activity_stats]
