"""SMS consent: opt-out and opt-in keywords in inbound texts, and Twilio's 21610 refusal, into the consent ledger.

Telephony sits above consent, so it calls app.consent directly. The keywords are the whole message (any case,
trailing punctuation ignored): the standard English ones (Twilio's default handling knows them too) and the
shop's own (Russian, Bulgarian, ...) from the consent settings page."""

from __future__ import annotations

from app.consent import services as consent
from app.contacts import services as contacts
from app.lib import i18n
from app.lib.db import current_uow
from app.lib.i18n import N_

STOP_WORDS = consent.STANDARD_STOP_WORDS
START_WORDS = consent.STANDARD_START_WORDS
CARRIER_HANDLED = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "optout", "revoke"})
"""Twilio answers these itself and then refuses any message to the number (21610): no reply of ours."""
UNSUBSCRIBED = 21610
OPTED_OUT_TEXT = N_("%(shop)s: you will get no more marketing messages from us. Reply %(start)s to subscribe again.")
OPTED_IN_TEXT = N_("%(shop)s: you will get our messages again. Reply %(stop)s to unsubscribe.")


def _word(body: str) -> str:
    return body.strip().strip(".!").strip().casefold()


async def keyword_status(body: str) -> str | None:
    """'opt_out' or 'opt_in' when the whole SMS is a stop or start keyword (standard or the shop's), else None."""
    word = _word(body)
    if not word or len(word) > 40:
        return None
    rules = await consent.settings()
    if word in {w.casefold() for w in (*STOP_WORDS, *rules["stop_words"])}:
        return "opt_out"
    if word in {w.casefold() for w in (*START_WORDS, *rules["start_words"])}:
        return "opt_in"
    return None


async def on_keyword(contact_id: int, p: dict[str, str]) -> str | None:
    """Record an inbound keyword SMS as an opt-out or opt-in for SMS marketing (source 'keyword', the text and
    the message's sid as evidence). Returns the reply to send, in the contact's language (None: not a keyword, or
    a standard stop word that Twilio answers itself before refusing any message to the number)."""
    body, sender = p.get("Body", ""), p.get("From", "")
    status = await keyword_status(body)
    if status is None:
        return None
    sid = p.get("MessageSid") or p.get("SmsSid", "")
    await consent.record(contact_id, "sms", "marketing", status, "keyword",
                         f'SMS "{body.strip()[:200]}" from {sender} to {p.get("To", "")} ({sid})')
    if status == "opt_out" and _word(body) in CARRIER_HANDLED:
        return None
    rules = await consent.settings()
    shop = await current_uow().connection.fetchval("SELECT display_name FROM workspace LIMIT 1") or ""
    start = " / ".join(["START", *rules["start_words"][:1]])
    stop = " / ".join(["STOP", *rules["stop_words"][:1]])
    template = OPTED_OUT_TEXT if status == "opt_out" else OPTED_IN_TEXT
    with i18n.viewing(await contacts.language_of(contact_id) or None):
        return i18n.gettext(template, shop=shop, start=start, stop=stop)


async def on_unsubscribed_error(contact_id: int | None, number: str, context: str) -> bool:
    """Twilio refused a message with 21610 (the recipient texted STOP to the shop's number, perhaps before we knew
    them): record an SMS marketing opt-out with source 'carrier_error', once (not when the latest entry already
    says opt_out). Returns whether an entry was written."""
    if contact_id is None:
        await consent.suppress("sms", [number], "carrier_error")
        return False
    if await consent.latest_status(contact_id, "sms", "marketing") == "opt_out":
        await consent.suppress("sms", [number], "carrier_error")
        return False
    await consent.record(contact_id, "sms", "marketing", "opt_out", "carrier_error",
                         f"Twilio error {UNSUBSCRIBED} (unsubscribed recipient) {context} to {number}")
    await consent.suppress("sms", [number], "carrier_error")
    return True
