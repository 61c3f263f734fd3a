"""Order pages: the orders panel on the contact card, the orders list, one order's page, and the public customer
portal (/t/{slug}/portal/{token}: no login, the token is the only key, read-only but for messages)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.accounts.guards import signed_in
from app.accounts.services import Principal
from app.contacts import services as contacts
from app.lib import i18n, money, reqctx
from app.lib.errors import DomainError, Invalid
from app.lib.security import token_hash
from app.lib.templates import render_page
from app.lib.wire import PathId, QueryInt
from app.orders import api as orders_api
from app.orders import live, pipeline, portal, revenue, services
from app.orders.schemas import ItemIn, OrderIn, PaymentIn
from realtime import current_id

Req = Request[Principal, Any, Any]
PORTAL_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Robots-Tag": "noindex",
                  "X-Frame-Options": "DENY"}


def _items_from_form(form: Any, currency: str) -> list[dict[str, Any]]:
    names, skus = form.getall("item_name", []), form.getall("item_sku", [])
    categories = form.getall("item_category", [])
    qtys, prices = form.getall("item_qty", []), form.getall("item_price", [])
    items = []
    for i, name in enumerate(names):
        if not str(name).strip() and not str(prices[i] if i < len(prices) else "").strip():
            continue  # an empty spare row of the form
        qty = str(qtys[i] if i < len(qtys) else "1").strip() or "1"
        if not qty.isdigit():
            field = f"items[{len(items)}].quantity"
            raise Invalid("%(field_name)s must be a whole number.", field=field, field_name=field)
        price = money.parse_major(str(prices[i] if i < len(prices) else ""), currency,
                                  f"items[{len(items)}].unit_price")
        items.append({"name": str(name), "sku": str(skus[i] if i < len(skus) else ""), "quantity": int(qty),
                      "unit_price": price, "category": str(categories[i] if i < len(categories) else "").strip()})
    return items


async def panel_context(contact_id: int, error: str | None = None) -> dict[str, Any]:
    card = await contacts.get(contact_id)
    orders, _ = await services.search(contact_id=contact_id, limit=20)
    return {"c": card, "orders": orders, "revenue": await revenue.for_contact(contact_id), "error": error,
            "order_count": await services.count_for_contact(contact_id),
            "labels": await pipeline.names(), "default_currency": await services.default_currency()}


class OrderViews(Controller):
    path = "/"
    include_in_schema = False
    guards = [signed_in]

    @get("/contacts/{contact_id:int}/orders-panel")
    async def panel(self, request: Req, contact_id: PathId) -> Template:
        return render_page(request, "_partials/order_card.html", await panel_context(contact_id))

    @post("/contacts/{contact_id:int}/orders")
    async def create_from_card(self, request: Req, contact_id: PathId) -> Template:
        form = await request.form()
        try:
            currency = money.check_currency(str(form.get("currency", "")).strip() or await services.default_currency())
            items = [ItemIn(**i) for i in _items_from_form(form, currency)]
            await services.create(request.user, OrderIn(
                currency=currency, items=items, contact_id=contact_id, note=str(form.get("note", "")),
                delivery_address=str(form.get("delivery_address", "")),
                shipping=money.parse_major(str(form.get("shipping") or "0"), currency, "shipping")))
        except DomainError as exc:
            return render_page(request, "_partials/order_card.html", await panel_context(contact_id, exc.detail),
                               status_code=exc.status_code)
        return render_page(request, "_partials/order_card.html", await panel_context(contact_id))

    @get("/orders/")
    async def index(self, request: Req, status: FromQuery[str] = "", q: FromQuery[str] = "",
                    offset: QueryInt = 0) -> Template:
        rows, nxt = await services.search(status=status or None, q=q, limit=50, offset=offset)
        names = {r["id"]: r for r in await contacts._cards(list({o["contact_id"] for o in rows}))}
        return render_page(request, "pages/orders.html", {
            "orders": rows, "next": nxt, "status": status, "q": q, "statuses": await pipeline.statuses(),
            "labels": await pipeline.names(), "contacts": names, "fmt": money.fmt})

    @get("/orders/{order_id:int}")
    async def show(self, request: Req, order_id: PathId,
                   error: FromQuery[str] = "", notice: FromQuery[str] = "") -> Template:
        ctx = await self._order_context(order_id, error, notice)
        # Live: status and payment changes by the API or another operator arrive over the page's websocket.
        ctx.update(live=True, live_watch=f"order:{order_id}", last_event_id=await current_id())
        return render_page(request, "pages/order.html", ctx)

    async def _order_context(self, order_id: int, error: str = "", notice: str = "") -> dict[str, Any]:
        parts = await live.page_parts(order_id)
        return {**parts, "c": await contacts.get(parts["o"]["contact_id"]),
                "portal": await portal.current_link(order_id), "messages": await portal.messages(order_id),
                "error": error, "notice": notice, "major": money.major}

    async def _act(self, request: Req, slug: str, order_id: int, fn: Any, notice: str) -> Template | Redirect:
        try:
            await fn()
        except DomainError as exc:
            ctx = await self._order_context(order_id, exc.detail)
            return render_page(request, "pages/order.html", ctx, status_code=exc.status_code)
        return Redirect(f"/t/{slug}/orders/{order_id}?notice={notice}", status_code=303)

    @post("/orders/{order_id:int}/status")
    async def set_status(self, request: Req, slug: FromPath[str], order_id: PathId) -> Template | Redirect:
        form = await request.form()
        version = int(form["version"]) if str(form.get("version", "")).isdigit() else None
        return await self._act(request, slug, order_id, lambda: services.change_status(
            request.user, order_id, str(form.get("status", "")), note=str(form.get("note", "")), version=version),
            "Status changed.")

    @post("/orders/{order_id:int}/edit")
    async def edit(self, request: Req, slug: FromPath[str], order_id: PathId) -> Template | Redirect:
        """Items, shipping, discount, address and note; totals are recomputed by the service. A stale version (the
        order changed since the page was loaded) is refused with 409, like the status form."""
        form = await request.form()
        order = await services.get(order_id)
        version = int(form["version"]) if str(form.get("version", "")).isdigit() else None

        async def run() -> Any:
            cur = order["currency"]
            changes = {"items": _items_from_form(form, cur),
                       "shipping": money.parse_major(str(form.get("shipping") or "0"), cur, "shipping"),
                       "discount": money.parse_major(str(form.get("discount") or "0"), cur, "discount"),
                       "delivery_address": str(form.get("delivery_address", "")), "note": str(form.get("note", ""))}
            return await services.update(request.user, order_id, changes, version=version)

        return await self._act(request, slug, order_id, run, "Order saved.")

    @post("/orders/{order_id:int}/money")
    async def add_money(self, request: Req, slug: FromPath[str], order_id: PathId) -> Template | Redirect:
        form = await request.form()
        order = await services.get(order_id)

        async def run() -> Any:
            data = PaymentIn(amount=money.parse_major(str(form.get("amount", "")), order["currency"], "amount"),
                             method=str(form.get("method", "")), note=str(form.get("note", "")))
            if form.get("kind") == "refund":
                return await services.add_refund(request.user, order_id, data)
            return await services.add_payment(request.user, order_id, data)

        return await self._act(request, slug, order_id, run, "Recorded.")

    @post("/orders/{order_id:int}/portal")
    async def portal_action(self, request: Req, slug: FromPath[str], order_id: PathId) -> Template | Redirect:
        form = await request.form()
        action = str(form.get("action", ""))
        if action == "revoke":
            return await self._act(request, slug, order_id, lambda: portal.revoke(request.user, order_id),
                                   "Portal link revoked.")
        if action == "email":
            return await self._act(request, slug, order_id, lambda: orders_api.send_portal_link(
                request.user, order_id, "email", str(form.get("to", "")) or None), "Portal link is being emailed.")
        if action == "sms":
            return await self._act(request, slug, order_id, lambda: orders_api.send_portal_link(
                request.user, order_id, "sms", str(form.get("phone", "")).strip() or None),
                "Portal link is being sent by SMS.")
        return await self._act(request, slug, order_id, lambda: portal.issue(request.user, order_id),
                               "New portal link issued.")

    @post("/orders/{order_id:int}/messages")
    async def reply(self, request: Req, slug: FromPath[str], order_id: PathId) -> Template | Redirect:
        form = await request.form()
        return await self._act(request, slug, order_id, lambda: portal.reply(request.user, order_id,
                                                                             str(form.get("body", ""))),
                               "Reply sent.")


# -- the customer portal (public) -------------------------------------------------------------------------------

def _visitor(token: str) -> str:
    return f"{reqctx.client_ip.get()}:{token_hash(token)[:16]}"


async def portal_context(request: Req, token: str, order_id: int) -> dict[str, Any]:
    ctx = await portal.view(order_id)
    ctx.update(token=token)
    # The customer reads the portal in the contact's language; times in their zone when the card has one (else
    # the page's script shows them in the browser's, see local-time.js).
    i18n.switch(ctx["language"], ctx["time_zone"])
    return ctx


class PortalViews(Controller):
    path = "/portal/{token:str}"
    include_in_schema = False

    @get("/")
    async def page(self, request: Req, slug: FromPath[str], token: FromPath[str]) -> Template:
        await portal.PAGE_LIMIT.check(slug, reqctx.client_ip.get())
        order_id = await portal.resolve(token)
        response = render_page(request, "pages/portal.html", await portal_context(request, token, order_id))
        response.headers.update(PORTAL_HEADERS)
        return response

    @post("/messages")
    async def message(self, request: Req, slug: FromPath[str], token: FromPath[str]) -> Template | Redirect:
        await portal.PAGE_LIMIT.check(slug, reqctx.client_ip.get())
        order_id = await portal.resolve(token)
        await portal.MESSAGE_LIMIT.check(slug, _visitor(token))
        form = await request.form()
        error, status = None, 200
        try:
            await portal.customer_message(order_id, str(form.get("body", "")))
        except DomainError as exc:
            error, status = exc.detail, exc.status_code
        if not request.headers.get("hx-request"):
            return Redirect(f"/t/{slug}/portal/{token}/", status_code=303)
        ctx = await portal_context(request, token, order_id)
        ctx["error"] = error
        response = render_page(request, "_partials/portal_messages.html", ctx, status_code=status)
        response.headers.update(PORTAL_HEADERS)
        return response

