"""Campaign results: delivery, open, click, reply, unsubscribe and conversion rates, revenue of orders within the
campaign's conversion window, and lift against the random holdout, per variant and in total.

Read from `campaign_recipient`, whose milestones app.campaigns.tracking writes. Rates are fractions (0..1) with
the counts beside them; a rate whose denominator is 0 is None."""

from __future__ import annotations

from typing import Any

from app.lib.db import current_uow
from app.lib.errors import NotFound

COUNTS = """
SELECT coalesce(variant, '') AS variant, holdout,
       count(*) AS audience,
       count(*) FILTER (WHERE status = 'skipped') AS skipped,
       count(*) FILTER (WHERE sent_at IS NOT NULL) AS sent,
       count(*) FILTER (WHERE delivered_at IS NOT NULL) AS delivered,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'bounced') AS bounced,
       count(*) FILTER (WHERE opened_at IS NOT NULL) AS opened,
       count(*) FILTER (WHERE clicked_at IS NOT NULL) AS clicked,
       count(*) FILTER (WHERE replied_at IS NOT NULL) AS replied,
       count(*) FILTER (WHERE unsubscribed_at IS NOT NULL) AS unsubscribed,
       count(*) FILTER (WHERE converted_at IS NOT NULL) AS converted,
       coalesce(sum(revenue), 0) AS revenue
FROM campaign_recipient WHERE campaign = $1 GROUP BY 1, 2 ORDER BY 1, 2
"""
FIELDS = ("audience", "skipped", "sent", "delivered", "failed", "bounced", "opened", "clicked", "replied",
          "unsubscribed", "converted", "revenue")


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _group(counts: dict[str, int], channel: str) -> dict[str, Any]:
    sent = counts["sent"]
    # Email has no delivery receipts: what was sent and neither failed nor bounced counts as delivered.
    delivered = counts["delivered"] if channel == "sms" else max(sent - counts["failed"] - counts["bounced"], 0)
    return {**counts, "delivered": delivered,
            "delivery_rate": _rate(delivered, sent), "open_rate": _rate(counts["opened"], sent),
            "click_rate": _rate(counts["clicked"], sent), "reply_rate": _rate(counts["replied"], sent),
            "unsubscribe_rate": _rate(counts["unsubscribed"], sent),
            "conversion_rate": _rate(counts["converted"], sent)}


def _add(into: dict[str, int], row: dict[str, Any]) -> None:
    for f in FIELDS:
        into[f] = into.get(f, 0) + int(row[f])


def lift(treated_converted: int, treated: int, holdout_converted: int, holdout: int) -> float | None:
    """Conversion rate of the treated over the holdout's, minus one (0.25 = 25 % more conversions than without the
    campaign); None when there is no holdout or nobody in it converted."""
    if not treated or not holdout or not holdout_converted:
        return None
    return round((treated_converted / treated) / (holdout_converted / holdout) - 1, 4)


async def results(campaign_id: int) -> dict[str, Any]:
    """The campaign's results: totals, per variant, the holdout group and the lift (with the counts behind it)."""
    conn = current_uow().connection
    campaign = await conn.fetchrow("SELECT id, name, channel, status, conversion_days, holdout_percent "
                                   "FROM campaign WHERE id = $1", campaign_id)
    if campaign is None:
        raise NotFound("No such campaign.")
    treated: dict[str, int] = {f: 0 for f in FIELDS}
    held: dict[str, int] = {f: 0 for f in FIELDS}
    variants: dict[str, dict[str, int]] = {}
    for row in await conn.fetch(COUNTS, campaign_id):
        if row["holdout"]:
            _add(held, row)
        else:
            _add(treated, row)
            _add(variants.setdefault(row["variant"], {f: 0 for f in FIELDS}), row)
    holdout_rate = _rate(held["converted"], held["audience"])
    channel = campaign["channel"]
    # Revenue is summed in the shop's money: the currency most of the credited orders (else of all orders) use.
    currency = await conn.fetchval(
        "SELECT currency FROM shop_order WHERE id IN (SELECT order_id FROM campaign_recipient WHERE campaign = $1) "
        "OR NOT EXISTS (SELECT 1 FROM campaign_recipient WHERE campaign = $1 AND order_id IS NOT NULL) "
        "GROUP BY currency ORDER BY count(*) DESC, currency LIMIT 1", campaign_id) or "USD"

    def with_lift(counts: dict[str, int]) -> dict[str, Any]:
        out = _group(counts, channel)
        out["lift"] = lift(counts["converted"], counts["sent"], held["converted"], held["audience"])
        return out

    return {"campaign_id": campaign["id"], "name": campaign["name"], "channel": channel,
            "status": campaign["status"], "conversion_days": campaign["conversion_days"], "currency": currency,
            "total": with_lift(treated),
            "variants": [{"variant": key, **with_lift(v)} for key, v in sorted(variants.items())],
            "holdout": {"audience": held["audience"], "converted": held["converted"], "revenue": held["revenue"],
                        "conversion_rate": holdout_rate}}
