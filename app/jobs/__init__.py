"""Background jobs (arq). `tenant_job` guards every job whose payload names a tenant."""

from __future__ import annotations

import functools
import logging

from app.core.db import MAX_ID
from app.core.logs import log_tenant

log = logging.getLogger("lianluo.jobs")


class TenantRequired(ValueError):
    """A job payload without a valid tenant id: refused before any query."""


def valid_tenant_id(value) -> int | None:
    """A positive bigint (an int or its decimal string); anything else is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 0 < value <= MAX_ID:
        return value
    return None


class TenantDatabase:
    """The worker's Database, bound to one tenant: every session it hands out is bound to that tenant
    (asking for another one is an error), so a job cannot query unbound or across tenants."""

    def __init__(self, database, tenant_id: int):
        self._database = database
        self.tenant_id = tenant_id

    def _check(self, tenant_id) -> int:
        if tenant_id is not None and int(tenant_id) != self.tenant_id:
            raise PermissionError(f"a job of tenant {self.tenant_id} asked for tenant {tenant_id}")
        return self.tenant_id

    def session(self, tenant_id: int | None = None, user_id: int | None = None):
        return self._database.session(self._check(tenant_id), user_id)

    def transaction(self, tenant_id: int | None = None, user_id: int | None = None):
        return self._database.transaction(self._check(tenant_id), user_id)

    def __getattr__(self, name):  # settings, engine, dispose …
        return getattr(self._database, name)


def tenant_job(fn):
    """For an arq job `async def job(ctx, tenant_id, *args)`: a payload without a valid tenant id is
    refused (logged, and `TenantRequired` raised: arq does not retry it) before anything else runs;
    otherwise the job runs with the tenant in its log lines and `ctx["db"]` bound to the tenant."""

    @functools.wraps(fn)
    async def job(ctx, tenant_id=None, *args, **kwargs):
        tid = valid_tenant_id(tenant_id)
        if tid is None:
            log.error("job %s refused: its payload names no valid tenant (%r)", fn.__name__, tenant_id)
            raise TenantRequired(f"{fn.__name__}: the job payload must name its tenant")
        token = log_tenant.set(str(tid))
        try:
            bound = {**ctx, "tenant_id": tid}
            if ctx.get("db") is not None:
                bound["db"] = TenantDatabase(ctx["db"], tid)
            return await fn(bound, tid, *args, **kwargs)
        finally:
            log_tenant.reset(token)

    return job
