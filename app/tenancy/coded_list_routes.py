"""The settings pages of a coded list (app.tenancy.coded_lists), county admins only (anyone else gets
the same 404): ``<path>`` (the list and the add form), ``<path>/{<id>}`` (one item: change it) and
``<path>/{<id>}/retire``. A domain declares its pages with CodedListPages and adds
``coded_list_routes(pages)`` to its route handlers; the pages are app/templates/settings/coded_list.html and
coded_item.html, with the list's own partials (its table, its extra fields, …) named in the declaration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from litestar import Request, Response, get, post

from app.core.web import bounded, client_addr, page
from app.tenancy import coded_lists
from app.tenancy.access import TenantContext, settings_change
from app.tenancy.coded_lists import CodedList


@dataclass(frozen=True)
class Texts:
    """The pages' words (msgids)."""

    title: str
    empty: str  # the list has no item yet
    add_heading: str
    add_button: str
    name_label: str
    code_label: str  # the optional code of the add form (the required one where the code can change)
    save_button: str
    retire_heading: str
    retire_help: str
    retire_button: str
    retired: str  # the badge of a retired item
    note: str | None = None  # below the list


@dataclass(frozen=True)
class Done:
    """A ``?done=`` value and what the page then says."""

    key: str
    text: str


@dataclass(frozen=True)
class CodedListPages:
    coded_list: CodedList
    path: str  # below /t/<slug>, e.g. "/settings/kinds"
    id_name: str  # the item's path parameter, e.g. "kind_id" (the isolation tests know each by name)
    texts: Texts
    added: Done
    saved: Done
    retired: Done
    lines: str  # partial: the list's table (head and rows of ``lines``)
    fields: str | None = None  # partial: the list's own form fields
    form_fields: tuple[str, ...] = ()  # their text fields
    choices: dict[str, int] = field(default_factory=dict)  # their multiple-choice fields: at most n values
    form_limit: int = 200  # characters per text field
    new_form: dict = field(default_factory=lambda: {"sort": "0"})  # the add form's first values
    item_form: Callable[[Any], dict] | None = None  # an item's own fields as its form shows them
    saved_to_list: bool = False  # after a change, go back to the list (else stay on the item)
    # The list's lines (default: its items); e.g. with counts of what refers to each.
    load_lines: Callable[[TenantContext], Awaitable[list]] | None = None
    # More values for the templates: (ctx, None) for the list page, (ctx, item) for an item's page.
    # Two the pages read themselves: "title_note" follows the list's title; an item's "in_use" (when
    # true: what still needs the item) replaces the retire button with the ``in_use_note`` partial.
    context: Callable[[TenantContext, Any], Awaitable[dict]] | None = None
    intro: str | None = None  # partial below the item's heading (its code, an example)
    import_kind: str = ""  # the spreadsheet import that fills the list (a link for the roles that may use it)
    in_use_note: str | None = None
    # Partial: a section of its own after the item's card; it then shows retiring itself, at its end
    # (settings/_coded_retire.html).
    section: str | None = None
    more_done: tuple[Done, ...] = ()  # ``?done=`` values of the domain's own routes on the item's page


async def list_page(request: Request, ctx: TenantContext, pages: CodedListPages, *, status_code: int = 200,
                    error: str | None = None, form: dict | None = None, done: str | None = None) -> Response:
    lines = await pages.load_lines(ctx) if pages.load_lines else await coded_lists.items(ctx.db, pages.coded_list)
    context = await pages.context(ctx, None) if pages.context else {}
    return page(request, "settings/coded_list.html", status_code=status_code, pages=pages, lines=lines,
                form=form or dict(pages.new_form), error=error, done=_done_text(pages, done), base=ctx.base,
                **context)


async def item_page(request: Request, ctx: TenantContext, pages: CodedListPages, item: Any, *,
                    status_code: int = 200, error: str | None = None, form: dict | None = None,
                    done: str | None = None, **more: Any) -> Response:
    """One item's page; ``more``: values for the domain's own section (e.g. a form to show again)."""
    context = await pages.context(ctx, item) if pages.context else {}
    return page(request, "settings/coded_item.html", status_code=status_code, pages=pages, item=item,
                form=form or _item_form(pages, item), error=error, done=_done_text(pages, done), base=ctx.base,
                **{**context, **more})


def coded_list_routes(pages: CodedListPages) -> list:
    """The list's five route handlers. The item's id is read from the path: its parameter is named
    after the list (``pages.id_name``), which a handler's signature cannot follow."""
    one = f"{pages.path}/{{{pages.id_name}:int}}"

    @get(pages.path)
    async def show_list(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
        ctx.require_role("county_admin")
        return await list_page(request, ctx, pages, done=done)

    @post(pages.path)
    async def add_item(request: Request, ctx: TenantContext) -> Response:
        ctx.require_role("county_admin")
        return await _add(request, ctx, pages)

    @get(one)
    async def show_item(request: Request, ctx: TenantContext, done: str | None = None) -> Response:
        ctx.require_role("county_admin")
        item = await coded_lists.get(ctx.db, pages.coded_list, request.path_params[pages.id_name])
        return await item_page(request, ctx, pages, item, done=done)

    @post(one)
    async def save_item(request: Request, ctx: TenantContext) -> Response:
        ctx.require_role("county_admin")
        return await _save(request, ctx, pages, request.path_params[pages.id_name])

    @post(one + "/retire")
    async def retire_item(request: Request, ctx: TenantContext) -> Response:
        ctx.require_role("county_admin")
        return await _retire(request, ctx, pages, request.path_params[pages.id_name])

    return [show_list, add_item, show_item, save_item, retire_item]


async def _add(request: Request, ctx: TenantContext, pages: CodedListPages) -> Response:
    values = _values(pages, await request.form(), adding=True)
    return await settings_change(
        ctx,
        lambda: coded_lists.save(ctx.db, pages.coded_list, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, item=None,
                                 values=values, client_addr=client_addr(request)),
        lambda error: list_page(request, ctx, pages, status_code=400, error=error, form=values),
        f"{pages.path}?done={pages.added.key}",
    )


async def _save(request: Request, ctx: TenantContext, pages: CodedListPages, item_id: int) -> Response:
    item = await coded_lists.get(ctx.db, pages.coded_list, item_id)
    values = _values(pages, await request.form(), adding=False)

    async def refused(error: str) -> Response:
        return await item_page(request, ctx, pages, await coded_lists.get(ctx.db, pages.coded_list, item_id),
                               status_code=400, error=error, form=values)

    where = pages.path if pages.saved_to_list else f"{pages.path}/{item_id}"
    return await settings_change(
        ctx,
        lambda: coded_lists.save(ctx.db, pages.coded_list, tenant_id=ctx.tenant.id, actor_id=ctx.user.id, item=item,
                                 values=values, client_addr=client_addr(request)),
        refused, f"{where}?done={pages.saved.key}",
    )


async def _retire(request: Request, ctx: TenantContext, pages: CodedListPages, item_id: int) -> Response:
    item = await coded_lists.get(ctx.db, pages.coded_list, item_id)

    async def refused(error: str) -> Response:
        return await item_page(request, ctx, pages, await coded_lists.get(ctx.db, pages.coded_list, item_id),
                               status_code=400, error=error)

    return await settings_change(
        ctx,
        lambda: coded_lists.retire(ctx.db, pages.coded_list, tenant_id=ctx.tenant.id, actor_id=ctx.user.id,
                                   item=item, client_addr=client_addr(request)),
        refused, f"{pages.path}?done={pages.retired.key}",
    )


def _values(pages: CodedListPages, form, *, adding: bool) -> dict:
    """The form as the service reads it and the page shows it again after a refusal."""
    keys = [pages.coded_list.name_column, *pages.form_fields, "sort"]
    if adding or pages.coded_list.code_editable:
        keys.append("code")
    values: dict = bounded(form, keys, pages.form_limit)
    for key, most in pages.choices.items():
        values[key] = [str(v) for v in form.getall(key, [])][:most]
    return values


def _item_form(pages: CodedListPages, item: Any) -> dict:
    form = {pages.coded_list.name_column: getattr(item, pages.coded_list.name_column), "sort": str(item.sort)}
    if pages.coded_list.code_editable:
        form["code"] = item.code
    return {**form, **(pages.item_form(item) if pages.item_form else {})}


def _done_text(pages: CodedListPages, done: str | None) -> str | None:
    for known in (pages.added, pages.saved, pages.retired, *pages.more_done):
        if known.key == done:
            return known.text
    return None
