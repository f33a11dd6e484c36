"""The operator's workbench at the top of the console (/ops/): sign-ups waiting for review, counties near
their SMS quota this month, counties whose messages fail — each a count linking to the list of them.
Made from what the console reads anyway (the pending applications and the usage figures of
``services.tenants_with_usage``): no query of its own, however many counties there are."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.i18n import lazy
from app.platform.services import TenantUsage

QUOTA_SHARE = (4, 5)  # near the quota: 80 % of this month's SMS quota used
# The usage figures that mean messages need attention (as the county's own home counts them).
TROUBLE_FIGURES = ("msg_unknown", "msg_stuck", "msg_failing")


def near_quota(usage: TenantUsage) -> bool:
    quota = usage.tenant.sms_quota or 0
    used = usage.figures.get("sms_month", 0)
    return quota > 0 and used * QUOTA_SHARE[1] >= quota * QUOTA_SHARE[0]


def failing(usage: TenantUsage) -> bool:
    return any(usage.figures.get(key, 0) for key in TROUBLE_FIGURES)


# The console's tenant list narrowed by ``?tenants=``: its value, the test, what the list then says.
TENANT_FILTERS = {
    "quota": (near_quota, lazy("Counties that have used 80% or more of this month's SMS quota.")),
    "trouble": (failing, lazy("Counties with messages failed, stuck or of unknown outcome.")),
}


@dataclass(frozen=True)
class Item:  # the shape of app.home.items.Item, which the template home/_workbench.html draws
    key: str
    label: str
    value: int
    link: str
    warn: bool = True
    detail: str = ""


@dataclass
class Group:
    title: str
    items: list[Item] = field(default_factory=list)


@dataclass
class Workbench:
    groups: list[Group]


def workbench(pending: list, tenants: list[TenantUsage]) -> Workbench:
    live = [u for u in tenants if u.tenant.status != "deleted"]
    return Workbench([Group(lazy("Waiting for the operator"), [
        Item("signups", lazy("Sign-ups waiting"), len(pending), "/ops/#pending"),
        Item("quota", lazy("Counties near their SMS quota"), sum(near_quota(u) for u in live),
             "/ops/?tenants=quota#tenants"),
        Item("failing", lazy("Counties with failing messages"), sum(failing(u) for u in live),
             "/ops/?tenants=trouble#tenants"),
    ])])


def narrowed(tenants: list[TenantUsage], which: str | None) -> list[TenantUsage]:
    """The tenant list of the console, narrowed by a ``?tenants=`` value (anything else: all)."""
    if which not in TENANT_FILTERS:
        return tenants
    test = TENANT_FILTERS[which][0]
    return [u for u in tenants if u.tenant.status != "deleted" and test(u)]
