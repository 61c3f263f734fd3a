"""The demo's conversations: calls (with recordings of real audio), SMS, email and web chat, each in the
queue's conversation table, its channel's own table and on the contact's timeline."""

from __future__ import annotations

from typing import Any

from app.chat.services import ref as chat_ref
from app.chat.tables import ChatMessage, ChatSession
from app.conversations.tables import Conversation, Queue
from app.demo.seed import Writer
from app.email.tables import EmailMessage
from app.lib.i18n import N_
from app.lib.identities import pretty_phone
from app.lib.security import token_hash
from app.lib.storage import get_storage
from telephony.simulator.resources import mp3
from telephony.tables import Call, SmsMessage

CHAT_ORIGIN = "http://127.0.0.1:8010"


class Talk:
    """Writes `story.threads` with the rows of a `Writer` whose contacts exist already."""

    def __init__(self, w: Writer, line: str, shop_email: str) -> None:
        self.w, self.line, self.shop_email = w, line, shop_email
        self.convs: list[Conversation] = []
        self.calls: list[Call] = []
        self.sms: list[SmsMessage] = []
        self.emails: list[EmailMessage] = []
        self.sessions: list[ChatSession] = []
        self.chats: list[ChatMessage] = []

    async def write(self) -> None:
        threads = self.w.story.threads
        queue = await Queue.select(Queue.id, Queue.key).where(Queue.archived == False).order_by(  # noqa: E712
            Queue.position).order_by(Queue.id).first()
        if queue is None:
            raise RuntimeError("The shop has no queue to put the demo's conversations in.")
        self.queue_id, self.queue_key = queue["id"], queue["key"]
        # Every thread has a conversation, outbound calls too (click-to-call opens one, active and the operator's).
        conv_ids = iter(await self.w.ids("conversation", len(threads)))
        need = {ch: sum(1 for t in threads if t["channel"] == ch) for ch in ("call", "chat")}
        call_ids = iter(await self.w.ids("twilio_call", need["call"]))
        session_ids = iter(await self.w.ids("chat_session", need["chat"]))
        sms_ids = iter(await self.w.ids("sms_message", sum(len(t["messages"]) for t in threads
                                                           if t["channel"] == "sms")))
        email_ids = iter(await self.w.ids("email_message", sum(len(t["messages"]) for t in threads
                                                               if t["channel"] == "email")))
        for t in threads:
            cid = next(conv_ids)
            if t["channel"] == "call":
                await self.call(t, cid, next(call_ids))
            elif t["channel"] == "sms":
                self.sms_thread(t, cid, sms_ids)
            elif t["channel"] == "email":
                self.email_thread(t, cid, email_ids)
            else:
                self.chat(t, cid, next(session_ids))
        for table, rows in ((Conversation, self.convs), (Call, self.calls), (SmsMessage, self.sms),
                            (EmailMessage, self.emails), (ChatSession, self.sessions), (ChatMessage, self.chats)):
            if rows:
                await table.insert(*rows)

    def conversation(self, t: dict[str, Any], cid: int, *, subject: str, address: str, ref: str,
                     taken: int | None, ended: int, queued: bool = True) -> None:
        w, status = self.w, t.get("state", "closed")  # calls are all over; messages may still be open
        closed = status == "closed"
        self.convs.append(Conversation(
            id=cid, contact=w.contact_ids[t["contact"]], channel=t["channel"], queue=self.queue_id, status=status,
            subject=subject[:300], from_address=address[:254], assigned_to=w.uid(t["operator"]), external_ref=ref,
            created_at=w.at(t["created"]), taken_at=w.at(taken) if taken is not None else None,
            ended_at=w.at(ended) if closed else None, closed_at=w.at(ended) if closed else None,
            wrapup_code=t["code"] if closed else ""))
        if queued:  # an operator's own call (click-to-call) never waited in a queue
            w.later(t["created"], t["contact"], t["channel"], "in", subject, links={"conversation_id": cid},
                    actor_type="customer", payload={"queue": self.queue_key, "event": "queued"})
        if closed and t["operator"]:
            w.later(ended - 1, t["contact"], "note", "internal", "Wrap-up: %(code)s", params={"code": t["code"]},
                    payload={"body": f"**Wrap-up: {t['code']}**\n\n{t.get('note', '')}".strip(), "code": t["code"]},
                    links={"conversation_id": cid}, **w.actor(t["operator"]))

    # -- calls ------------------------------------------------------------------------------------------------------

    async def call(self, t: dict[str, Any], cid: int, call_id: int) -> None:
        w = self.w
        customer = w.phones[t["contact"]]
        label = pretty_phone(customer)
        start, inbound, outcome = t["created"], t["inbound"], t["outcome"]
        answered = start - t["wait"] if outcome == "answered" else None
        ended = (answered - t["talk"]) if answered is not None else start - max(t["wait"], 20)
        conversation = cid
        self.conversation(t, cid, subject=f"Call {'from' if inbound else 'to'} {label}", address=customer,
                          ref=t["sid"], taken=answered if inbound else start, ended=ended, queued=inbound)
        status = "completed" if outcome in ("answered", "voicemail", "abandoned") else "no-answer"
        recording: dict[str, Any] = {}
        if t["recorded"]:
            audio = mp3(t["talk"])  # the simulator's own recording audio: a real MP3 that plays in the browser

            async def chunks() -> Any:
                yield audio

            key = await get_storage().put(chunks(), namespace="recordings")
            recording = {"recording_sid": "RE" + t["sid"][2:], "recording_status": "completed",
                         "recording_duration": t["talk"], "recording_key": key}
        self.calls.append(Call(
            id=call_id, sid=t["sid"], direction="inbound" if inbound else "outbound-api",
            from_number=customer if inbound else self.line, to_number=self.line if inbound else customer,
            status=status, last_sequence=3, outcome=outcome, conversation=conversation,
            contact=w.contact_ids[t["contact"]], operator=w.uid(t["operator"]), queue_key=self.queue_key if inbound
            else "", created_at=w.at(start), answered_at=w.at(answered) if answered is not None else None,
            ended_at=w.at(ended), duration=start - ended, **recording))
        links = {"call_id": call_id, "conversation_id": conversation}
        summary = {"answered": N_("Call with %(caller)s ended after %(seconds)s s") if inbound
                   else N_("Call to %(caller)s ended after %(seconds)s s"),
                   "abandoned": N_("Caller %(caller)s hung up while waiting"),
                   "voicemail": N_("Call from %(caller)s: voicemail left"),
                   "missed": N_("Call %(caller)s: %(status)s")}[outcome]
        w.later(ended, t["contact"], "call", "in" if inbound else "out", summary, links=links,
                params={"caller": label, "seconds": start - ended, "status": status}, payload={
            "event": "ended", "call_sid": t["sid"], "status": status, "outcome": outcome, "duration": start - ended,
            "wait_seconds": t["wait"] if answered is not None else None,
            "talk_seconds": t["talk"] if answered is not None else None, "operator_id": w.uid(t["operator"])})
        if recording:
            w.later(ended - 5, t["contact"], "call", "internal", "Call recording (%(seconds)s s)", links=links,
                    params={"seconds": t["talk"]},
                    payload={"event": "recording", "status": "completed", "duration": t["talk"],
                             "url": f"/t/{w.slug}/api/v1/calls/{call_id}/recording"})

    # -- SMS, email, chat -------------------------------------------------------------------------------------------

    def _span(self, t: dict[str, Any]) -> tuple[int | None, int]:
        """When an operator took the thread (their first reply) and when it ended (the last message)."""
        outs = [m["at"] for m in t["messages"] if m["direction"] == "out"]
        return (outs[0] + 30 if outs else None), max(20, t["messages"][-1]["at"] - 60)

    def sms_thread(self, t: dict[str, Any], cid: int, ids: Any) -> None:
        w, customer = self.w, self.w.phones[t["contact"]]
        first = t["messages"][0]
        sids = ["SM" + t["ref"][:30] + f"{n:02d}" for n in range(len(t["messages"]))]
        taken, ended = self._span(t)
        self.conversation(t, cid, subject=f"SMS from {pretty_phone(customer)}: {first['body'][:60]}",
                          address=customer, ref=sids[0], taken=taken, ended=ended)
        for sid, m in zip(sids, t["messages"], strict=True):
            mid, out = next(ids), m["direction"] == "out"
            self.sms.append(SmsMessage(
                id=mid, sid=sid, direction=m["direction"], from_number=self.line if out else customer,
                to_number=customer if out else self.line, body=m["body"], status="delivered" if out else "received",
                contact=w.contact_ids[t["contact"]], conversation=cid, sent_by=w.uid(t["operator"]) if out else None,
                created_at=w.at(m["at"]), updated_at=w.at(m["at"])))
            payload = {"event": "sms", "sid": sid, "body": m["body"], "status": "delivered" if out else "received"}
            payload.update({"to": customer} if out else {"from": customer, "num_media": 0})
            w.later(m["at"], t["contact"], "sms", m["direction"], m["body"][:200], links={"conversation_id": cid},
                    payload=payload, backref=("sms_message", mid),
                    **(w.actor(t["operator"]) if out else {"actor_type": "customer"}))

    def email_thread(self, t: dict[str, Any], cid: int, ids: Any) -> None:
        w = self.w
        customer = w.emails[t["contact"]] or f"customer{t['contact']}@example.com"
        name = w.story.contacts[t["contact"]]["values"]["name"]
        taken, ended = self._span(t)
        self.conversation(t, cid, subject=t["subject"], address=customer, ref=f"{t['ref']}-0@mail.example.com",
                          taken=taken, ended=ended)
        previous = ""
        for n, m in enumerate(t["messages"]):
            mid, out = next(ids), m["direction"] == "out"
            message_id = f"{t['ref']}-{n}@{'demo.switchboard.example' if out else 'mail.example.com'}"
            subject = t["subject"] if n == 0 else f"Re: {t['subject']}"
            self.emails.append(EmailMessage(
                id=mid, direction=m["direction"], contact=w.contact_ids[t["contact"]], conversation=cid,
                status="sent" if out else "received", message_id=message_id, in_reply_to=previous,
                thread_refs=f"<{previous}>" if previous else "", subject=subject,
                from_address=self.shop_email if out else customer, to_address=customer if out else self.shop_email,
                text=m["body"], sent_by=w.uid(t["operator"]) if out else None, created_at=w.at(m["at"]),
                sent_at=w.at(m["at"])))
            previous = message_id
            payload = {"event": "email", "status": "sent" if out else "received", "body": m["body"]}
            payload.update({"to": customer, "attachments": 0} if out else {"from": customer, "attachments": []})
            w.later(m["at"], t["contact"], "email", m["direction"], subject, payload=payload,
                    links={"email_id": mid, "conversation_id": cid}, backref=("email_message", mid),
                    **(w.actor(t["operator"]) if out else {"actor_type": "customer", "actor_label": name}))

    def chat(self, t: dict[str, Any], cid: int, session_id: int) -> None:
        w = self.w
        values = w.story.contacts[t["contact"]]["values"]
        first = t["messages"][0]
        taken, ended = self._span(t)
        self.conversation(t, cid, subject=f"Web chat: {first['body'][:200]}", address=values["name"],
                          ref=chat_ref(session_id), taken=taken, ended=ended)
        self.sessions.append(ChatSession(
            id=session_id, token_hash=token_hash(f"demo-chat-{t['ref']}"), origin=CHAT_ORIGIN,
            page_url=f"{CHAT_ORIGIN}/shop", visitor_name=values["name"][:100],
            visitor_email=(w.emails[t["contact"]] or "")[:254], contact=w.contact_ids[t["contact"]], conversation=cid,
            created_at=w.at(first["at"]), last_seen_at=w.at(t["messages"][-1]["at"])))
        links = {"chat_session_id": session_id, "conversation_id": cid}
        for m in t["messages"]:
            out = m["direction"] == "out"
            user = w.user(t["operator"]) if out else None
            self.chats.append(ChatMessage(
                chat_session=session_id, conversation=cid, direction=m["direction"], body=m["body"],
                author_label=w.label(t["operator"]) if out else "", author=user["id"] if user else None,
                status="read", created_at=w.at(m["at"]), delivered_at=w.at(m["at"]), read_at=w.at(m["at"])))
            if out:
                w.later(m["at"], t["contact"], "chat", "out", m["body"][:200], links=links,
                        payload={"event": "chat_reply", "body": m["body"]}, **w.actor(t["operator"]))
            elif m is not first:  # the first message is the conversation's own timeline item
                w.later(m["at"], t["contact"], "chat", "in", m["body"][:200], links=links, actor_type="customer",
                        payload={"event": "chat_message", "body": m["body"]})

