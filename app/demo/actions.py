"""The demo's conversation actions: canned responses for the reply boxes, one conversation snoozed until the next
morning (with the job that wakes it), one number blocked as spam."""

from __future__ import annotations

import datetime as dt

from app.conversations.actions import WAKE_JOB
from app.conversations.tables import BlockedAddress, Conversation
from app.demo.seed import Writer
from app.email.tables import EmailTemplate
from app.lib import jobs
from app.lib.clock import now

SNOOZE_HOURS = 16
"""The snoozed conversation comes back this long after the demo's anchor (the next morning for an evening run)."""
SPAM_NUMBER = "+14155550199"

CANNED: dict[str, tuple[tuple[str, str, str], ...]] = {
    "en_US": (
        ("thanks", "Thank you", "Thank you, {{ contact.first_name }}! If anything else comes up, just reply here.\n"
                                "{{ operator.name }}, {{ shop }}"),
        ("parcel", "Parcel on its way", "Hi {{ contact.first_name }}, your parcel has left our warehouse today; "
                                        "you will get the tracking link by e-mail."),
        ("callback", "We will call you back", "Hi {{ contact.first_name }}, {{ operator.name }} from {{ shop }} "
                                              "here. We will call you back within the hour."),
    ),
    "ru_RU": (
        ("thanks", "Спасибо", "Спасибо, {{ contact.first_name }}! Если появятся вопросы, просто ответьте на это "
                              "сообщение.\n{{ operator.name }}, {{ shop }}"),
        ("parcel", "Посылка в пути", "{{ contact.first_name }}, здравствуйте! Ваша посылка сегодня покинула склад; "
                                     "ссылку для отслеживания пришлём по e-mail."),
        ("callback", "Перезвоним", "{{ contact.first_name }}, здравствуйте! Это {{ operator.name }} из "
                                   "{{ shop }}. Мы перезвоним вам в течение часа."),
    ),
    "bg_BG": (
        ("thanks", "Благодарим", "Благодарим, {{ contact.first_name }}! Ако имате още въпроси, просто отговорете "
                                 "тук.\n{{ operator.name }}, {{ shop }}"),
        ("parcel", "Пратката е на път", "Здравейте, {{ contact.first_name }}! Пратката ви напусна склада днес; "
                                        "линка за проследяване ще получите по имейл."),
        ("callback", "Ще ви се обадим", "Здравейте, {{ contact.first_name }}! Аз съм {{ operator.name }} от "
                                        "{{ shop }}. Ще ви се обадим до един час."),
    ),
}
SPAM_REASON = {"en_US": "Robocalls offering prizes", "ru_RU": "Роботы-обзвонщики с «призами»",
               "bg_BG": "Роботизирани обаждания с „награди“"}


async def write(w: Writer, conversations: list[Conversation], owner_id: int, locale: str) -> None:
    """After the demo's conversations exist, before the timeline is recorded (the snooze note joins it)."""
    have = {r["shortcut"] for r in await EmailTemplate.select(EmailTemplate.shortcut).where(
        EmailTemplate.kind == "canned")}
    rows = [EmailTemplate(kind="canned", shortcut=key, name=name, body=body)
            for key, name, body in CANNED.get(locale, CANNED["en_US"]) if key not in have]
    if rows:
        await EmailTemplate.insert(*rows)
    await BlockedAddress.insert(BlockedAddress(address=SPAM_NUMBER, kind="phone", reason=SPAM_REASON.get(
        locale, SPAM_REASON["en_US"]), blocked_by=owner_id, created_at=w.at(3 * 86400))).on_conflict(
        action="DO NOTHING")
    waiting = [c for c in conversations if c.status == "waiting" and c.channel == "email"]
    if not waiting:
        return
    conv = waiting[-1]  # the console keeps its other waiting customers
    until = w.anchor + dt.timedelta(hours=SNOOZE_HOURS)
    await Conversation.update({Conversation.status: "snoozed", Conversation.snoozed_until: until}).where(
        Conversation.id == conv.id)
    await jobs.enqueue(WAKE_JOB, {"conversation_id": conv.id, "until": until.isoformat()},
                       delay=max(until - now(), dt.timedelta(0)))
    # Said relative to the anchor, so two shops grown from one seed on different days keep the same timeline.
    w.later(60, w.contact_ids.index(conv.contact), "system", "internal", "Snoozed for %(hours)s hours",
            params={"hours": SNOOZE_HOURS}, links={"conversation_id": conv.id},
            payload={"event": "snoozed", "hours": SNOOZE_HOURS}, **w.actor(None))
