"""Campaign API bodies (msgspec): a draft in, a campaign with its variants and counts out, recipients paged."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from msgspec import Meta

from app.lib.wire import Id, Patch

Percent = Annotated[int, Meta(ge=0, le=90, description="Share of the audience held out, 0 to 90.")]
Positive = Annotated[int, Meta(ge=1, le=1_000_000)]


class ContentIn(msgspec.Struct, forbid_unknown_fields=True):
    body: str
    subject: str = ""
    """Email only: the subject line (a template too)."""


class VariantIn(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    """'A', 'B', ... (one capital letter)."""
    content: dict[str, ContentIn]
    """Content per language: {"": default, "ru": ..., "bg": ...}; the recipient's language when present."""
    weight: Annotated[int, Meta(ge=0, le=1000)] = 1


class CampaignIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    channel: str
    """'sms' or 'email'."""
    variants: list[VariantIn]
    segment_id: Id | None = None
    purpose: str = "marketing"
    scheduled_at: dt.datetime | None = None
    quiet_start: dt.time | None = None
    """Quiet hours in the recipient's zone, e.g. 21:00 to 09:00: messages wait until the window ends."""
    quiet_end: dt.time | None = None
    throttle_per_minute: Positive | None = None
    cap_messages: Positive | None = None
    """Frequency cap: skip a contact who got this many campaign messages within cap_days."""
    cap_days: Annotated[int, Meta(ge=1, le=365)] | None = None
    holdout_percent: Percent = 0
    conversion_days: Annotated[int, Meta(ge=1, le=90)] = 7


class CampaignPatch(Patch, forbid_unknown_fields=True, omit_defaults=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    channel: str | msgspec.UnsetType = msgspec.UNSET
    variants: list[VariantIn] | msgspec.UnsetType = msgspec.UNSET
    segment_id: Id | msgspec.UnsetType | None = msgspec.UNSET
    purpose: str | msgspec.UnsetType = msgspec.UNSET
    scheduled_at: dt.datetime | msgspec.UnsetType | None = msgspec.UNSET
    quiet_start: dt.time | msgspec.UnsetType | None = msgspec.UNSET
    quiet_end: dt.time | msgspec.UnsetType | None = msgspec.UNSET
    throttle_per_minute: Positive | msgspec.UnsetType | None = msgspec.UNSET
    cap_messages: Positive | msgspec.UnsetType | None = msgspec.UNSET
    cap_days: Annotated[int, Meta(ge=1, le=365)] | msgspec.UnsetType | None = msgspec.UNSET
    holdout_percent: Percent | msgspec.UnsetType = msgspec.UNSET
    conversion_days: Annotated[int, Meta(ge=1, le=90)] | msgspec.UnsetType = msgspec.UNSET


class VariantOut(msgspec.Struct):
    key: str
    weight: int
    content: dict[str, dict[str, str]]


class CampaignOut(msgspec.Struct):
    id: int
    name: str
    channel: str
    purpose: str
    segment_id: int | None
    status: str
    scheduled_at: dt.datetime | None
    quiet_start: dt.time | None
    quiet_end: dt.time | None
    throttle_per_minute: int | None
    cap_messages: int | None
    cap_days: int | None
    holdout_percent: int
    conversion_days: int
    audience_count: int
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    variants: list[VariantOut]
    counts: dict[str, int]
    """Recipients per status (queued, sending, sent, delivered, failed, bounced, skipped, held_out)."""


class CampaignList(msgspec.Struct):
    items: list[CampaignOut]
    next: str | None = None


class RecipientOut(msgspec.Struct):
    id: int
    contact_id: int
    contact_name: str
    variant: str | None
    holdout: bool
    address: str
    language: str
    timezone: str
    status: str
    skip_reason: str | None
    sms_message_id: int | None
    email_message_id: int | None
    queued_at: dt.datetime
    sent_at: dt.datetime | None
    delivered_at: dt.datetime | None
    failed_at: dt.datetime | None
    opened_at: dt.datetime | None
    clicked_at: dt.datetime | None
    replied_at: dt.datetime | None
    unsubscribed_at: dt.datetime | None
    converted_at: dt.datetime | None


class RecipientList(msgspec.Struct):
    items: list[RecipientOut]
    next: str | None = None


class PreviewIn(msgspec.Struct, forbid_unknown_fields=True):
    contact_id: Id | None = None
    """A sample contact (default: the first of the segment, else any contact)."""
    language: str | None = None
    variants: list[VariantIn] | None = None
    """Unsaved content to preview (the editor's); default: the campaign's own."""


class PreviewItem(msgspec.Struct):
    key: str
    subject: str
    body: str


class PreviewOut(msgspec.Struct):
    contact_id: int | None
    language: str
    items: list[PreviewItem]

