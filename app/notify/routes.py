"""Notification pages under /t/{tenant_slug}/: the member's inbox (/inbox) and channel choices
(/me/notifications), the county's notification settings (/settings/notifications, county admins), and
the delivery log (/notifications/log: county admins and viewers; sending failed messages again:
county admins). Everyone else gets the same 404. Every page works without JavaScript; with htmx,
marking one message read swaps only that message and the header's count."""

from __future__ import annotations

from datetime import datetime, timezone

from litestar import Request, Response, get, post
from litestar.params import Parameter

from app.core.i18n import lazy
from app.core.web import client_addr, htmx_target, page, see_other
from app.notify import access, queries, unknown
from app.notify import settings as svc
from app.notify.config import notify_settings
from app.notify.models import CHANNEL_NAMES, CHANNELS, STATUS_NAMES, STATUSES
from app.notify.texts import KINDS
from app.tenancy.access import TenantContext, settings_change

INBOX = "/inbox"
CHOICES = "/me/notifications"
SETTINGS = "/settings/notifications"
LOG = "/notifications/log"
DONE = {
    "settings": lazy("The notification settings have been saved."),
    "choices": lazy("Your notification choices have been saved."),
    "resent": lazy("The failed messages are queued to be sent again."),
    "resent_one": lazy("The message is queued to be sent again."),
    "dropped": lazy("The message will not be sent again."),
}
WEEKDAY_NAMES = {
    0: lazy("No mailbox reminder"), 1: lazy("Mondays"), 2: lazy("Tuesdays"), 3: lazy("Wednesdays"),
    4: lazy("Thursdays"), 5: lazy("Fridays"), 6: lazy("Saturdays"), 7: lazy("Sundays"),
}


# --- the inbox ------------------------------------------------------------------------------------


@get(INBOX, opt={"own_header_count": True})  # the page counts the unread messages itself
async def inbox(request: Request, ctx: TenantContext,
                before: int | None = Parameter(query="before", default=None, ge=1, le=access.MAX_ID)) -> Response:
    found = await queries.inbox_page(ctx.db, ctx.user.id, before)
    return page(request, "notify/inbox.html", p=found, before=before, base=ctx.base, tz=ctx.tz, KINDS=KINDS,
                unread=found.unread)


@post(INBOX + "/{outbox_id:int}/read")
async def read_message(request: Request, ctx: TenantContext, outbox_id: int) -> Response:
    message = await access.my_message(ctx.db, ctx.user.id, outbox_id)
    await queries.mark_read(ctx.db, message)
    if htmx_target(request) == f"m{outbox_id}":
        # htmx: only this message and, out of band, the header's count
        return page(request, "notify/_message.html", m=message, base=ctx.base, tz=ctx.tz, KINDS=KINDS,
                    unread=await queries.unread_count(ctx.db, ctx.user.id), oob=True)
    before = str((await request.form()).get("before", ""))
    return see_other(f"{ctx.base}{INBOX}" + (f"?before={before}" if before.isdigit() else "") + f"#m{outbox_id}")


@post(INBOX + "/read-all")
async def read_all(request: Request, ctx: TenantContext) -> Response:
    await queries.mark_all_read(ctx.db, ctx.user.id)
    return see_other(f"{ctx.base}{INBOX}")


# --- the member's channels ------------------------------------------------------------------------


async def _choices_page(request: Request, ctx: TenantContext, *, status_code: int = 200, error: str | None = None,
                        form: dict | None = None, done: str | None = None) -> Response:
    config = await notify_settings(ctx.db, ctx.tenant.id)
    mine = await svc.my_choices(ctx.db, ctx.membership, ctx.user, config)
    form = form or {"channels": mine.channels, "email": mine.email}
    return page(request, "notify/choices.html", status_code=status_code, error=error, form=form,
                required=mine.required, options=svc.OPTIONAL_CHANNELS, CHANNEL_NAMES=CHANNEL_NAMES,
                done=DONE.get(done or ""), base=ctx.base, mobile=ctx.user.mobile)


@get(CHOICES)
async def my_choices(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    return await _choices_page(request, ctx, done=done)


@post(CHOICES)
async def save_my_choices(request: Request, ctx: TenantContext) -> Response:
    form = await request.form()
    values = {"channels": [c for c in svc.OPTIONAL_CHANNELS if c in form.getall("channels", [])],
              "email": str(form.get("email", ""))[:200]}

    async def change() -> None:
        config = await notify_settings(ctx.db, ctx.tenant.id)
        await svc.save_choices(ctx.db, membership=ctx.membership, user=ctx.user, config=config,
                               chosen=values["channels"], email=values["email"])

    return await settings_change(
        ctx, change, lambda error: _choices_page(request, ctx, status_code=400, error=error, form=values),
        f"{CHOICES}?done=choices")


# --- the county's settings ------------------------------------------------------------------------


async def _settings_page(request: Request, ctx: TenantContext, *, status_code: int = 200, error: str | None = None,
                         form: dict | None = None, done: str | None = None) -> Response:
    config = await notify_settings(ctx.db, ctx.tenant.id)
    kinds = [(code, kind, svc.builtin_text(code), svc.allowed_placeholders(code)) for code, kind in KINDS.items()]
    return page(request, "notify/settings.html", status_code=status_code, error=error,
                form=form or svc.form_of(config), kinds=kinds, options=svc.OPTIONAL_CHANNELS,
                CHANNEL_NAMES=CHANNEL_NAMES, WEEKDAY_NAMES=WEEKDAY_NAMES, text_max=svc.TEXT_MAX,
                sms_used=await queries.sms_this_month(ctx.db, ctx.tz), sms_quota=config.sms_quota,
                done=DONE.get(done or ""), base=ctx.base)


@get(SETTINGS)
async def notification_settings(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    access.require_admin(ctx)
    return await _settings_page(request, ctx, done=done)


@post(SETTINGS)
async def save_notification_settings(request: Request, ctx: TenantContext) -> Response:
    access.require_admin(ctx)
    values = svc.read_form(await request.form())
    return await settings_change(
        ctx, lambda: svc.save_settings(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, values=values,
                                       client_addr=client_addr(request)),
        lambda error: _settings_page(request, ctx, status_code=400, error=error, form=values),
        f"{SETTINGS}?done=settings")


# --- the delivery log -----------------------------------------------------------------------------


async def _log_page(request: Request, ctx: TenantContext, *, status_code: int = 200, error: str | None = None,
                    done: str | None = None) -> Response:
    f = queries.LogFilter.read(request.query_params)
    tz = ctx.tz
    now = datetime.now(timezone.utc)
    found = await queries.log_page(ctx.db, f, tz, now=now)
    months = queries.recent_months(now.astimezone(tz).date())
    return page(request, "notify/log.html", status_code=status_code, error=error, done=DONE.get(done or ""),
                p=found, f=f, failed=await queries.failed_count(ctx.db), months=months, tz=tz,
                attention=await queries.attention(ctx.db, now), stuck_since=queries.stuck_since(now),
                can_resend=ctx.role == "county_admin", STATUSES=STATUSES, STATUS_NAMES=STATUS_NAMES,
                CHANNELS=CHANNELS, CHANNEL_NAMES=CHANNEL_NAMES, KINDS=KINDS, TROUBLE=queries.TROUBLE,
                TROUBLE_NAMES=queries.TROUBLE_NAMES, base=ctx.base)


@get(LOG)
async def delivery_log(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
    access.require_log(ctx)
    return await _log_page(request, ctx, done=done)


async def _resend(request: Request, ctx: TenantContext, outbox_id: int | None) -> Response:
    access.require_admin(ctx)
    row = await access.log_row(ctx.db, outbox_id) if outbox_id is not None else None

    async def change() -> None:
        if row is not None and row.status == "unknown":  # staff decide what nobody could tell
            await unknown.send_again(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, row=row,
                                     client_addr=client_addr(request))
            return
        await svc.resend_failed(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, row=row,
                                client_addr=client_addr(request))

    return await settings_change(
        ctx, change, lambda error: _log_page(request, ctx, status_code=400, error=error),
        f"{LOG}?done={'resent_one' if row is not None else 'resent'}")


@post(LOG + "/resend")
async def resend_failed(request: Request, ctx: TenantContext) -> Response:
    return await _resend(request, ctx, None)


@post(LOG + "/{outbox_id:int}/resend")
async def resend_one(request: Request, ctx: TenantContext, outbox_id: int) -> Response:
    return await _resend(request, ctx, outbox_id)


@post(LOG + "/{outbox_id:int}/drop")
async def drop_unknown(request: Request, ctx: TenantContext, outbox_id: int) -> Response:
    """A message whose outcome nobody can tell is not sent again."""
    access.require_admin(ctx)
    row = await access.log_row(ctx.db, outbox_id)
    return await settings_change(
        ctx, lambda: unknown.drop(ctx.db, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, row=row,
                                  client_addr=client_addr(request)),
        lambda error: _log_page(request, ctx, status_code=400, error=error), f"{LOG}?done=dropped")


route_handlers = [
    inbox, read_message, read_all, my_choices, save_my_choices, notification_settings,
    save_notification_settings, delivery_log, resend_failed, resend_one, drop_unknown,
]
