"""Tenant-schema tables of campaigns: the campaign, its A/B variants, and the audience frozen when sending starts.

`campaign_recipient` is the one row per contact and campaign that every step writes to: the sender claims it
('queued' -> 'sending' -> 'sent'), tracking (app.campaigns.tracking) moves its milestones, results read it."""

from __future__ import annotations

from piccolo.columns import (
    JSONB,
    BigInt,
    Boolean,
    ForeignKey,
    Integer,
    Serial,
    Time,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.contacts.tables import Contact

CHANNELS = ("sms", "email")
PURPOSES = ("marketing", "transactional")
STATUSES = ("draft", "scheduled", "sending", "paused", "done", "cancelled")
RECIPIENT_STATUSES = ("queued", "skipped", "sending", "sent", "delivered", "failed", "bounced", "held_out")


class Campaign(Table, tablename="campaign"):
    id: Serial
    name = Varchar(length=200)
    channel = Varchar(length=8)  # sms | email
    purpose = Varchar(length=16, default="marketing")  # marketing | transactional
    segment = Integer(null=True, default=None)
    """FK segment (app.segments): the audience; ON DELETE SET NULL (a sent campaign keeps its frozen recipients)."""
    status = Varchar(length=16, default="draft")
    scheduled_at = Timestamptz(null=True, default=None)
    quiet_start = Time(null=True, default=None)
    """Start of the window in which nothing is sent, in the recipient's zone (22:00); with quiet_end (08:00)."""
    quiet_end = Time(null=True, default=None)
    throttle_per_minute = Integer(null=True, default=None)
    cap_messages = Integer(null=True, default=None)
    """Frequency cap across campaigns: at most cap_messages campaign messages to one contact within cap_days."""
    cap_days = Integer(null=True, default=None)
    holdout_percent = Integer(default=0)
    conversion_days = Integer(default=7)
    audience_count = Integer(default=0)
    started_at = Timestamptz(null=True, default=None)
    finished_at = Timestamptz(null=True, default=None)
    created_by = ForeignKey(references=User, null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class CampaignVariant(Table, tablename="campaign_variant"):
    id: Serial
    campaign = ForeignKey(references=Campaign, null=False)
    key = Varchar(length=4)  # A, B, ...
    weight = Integer(default=1)
    content = JSONB(default={})
    """{lang: {subject, body}}; the key '' is the default language's content."""


class CampaignRecipient(Table, tablename="campaign_recipient"):
    id = BigInt(primary_key=True)  # bigserial in the migration
    campaign = ForeignKey(references=Campaign, null=False)
    contact = ForeignKey(references=Contact, null=False)
    variant = Varchar(length=4, null=True, default=None)
    holdout = Boolean(default=False)
    address = Varchar(length=254, default="")
    language = Varchar(length=8, default="")
    timezone = Varchar(length=64, default="")
    token = Varchar(length=32, unique=True)
    status = Varchar(length=16, default="queued")
    skip_reason = Varchar(length=32, null=True, default=None)
    sms_message_id = Integer(null=True, default=None)
    email_message_id = Integer(null=True, default=None)
    queued_at = Timestamptz(default=TimestamptzNow())
    claimed_at = Timestamptz(null=True, default=None)
    """When a sender took it ('sending'): the throttle's clock and where a crashed send is looked up at Twilio."""
    sent_at = Timestamptz(null=True, default=None)
    delivered_at = Timestamptz(null=True, default=None)
    failed_at = Timestamptz(null=True, default=None)
    opened_at = Timestamptz(null=True, default=None)
    clicked_at = Timestamptz(null=True, default=None)
    replied_at = Timestamptz(null=True, default=None)
    unsubscribed_at = Timestamptz(null=True, default=None)
    converted_at = Timestamptz(null=True, default=None)
    order_id = Integer(null=True, default=None)
    revenue = BigInt(default=0)
