"""Tenant-schema tables of the Twilio channel: settings, devices, raw webhooks, calls, SMS messages."""

from __future__ import annotations

from piccolo.columns import JSONB, Array, Boolean, ForeignKey, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from app.accounts.tables import User
from app.contacts.tables import Contact
from app.conversations.tables import Conversation


class TwilioConfig(Table, tablename="twilio_config"):
    """The tenant's Twilio account (one row). The Auth Token is stored encrypted and never leaves the server."""

    id: Serial
    account_sid = Varchar(length=34)
    auth_token_enc = Text()
    numbers = Array(base_column=Varchar(length=20), default=list)
    record_calls = Boolean(default=False)
    greeting = Varchar(length=500, default="")
    business_hours = JSONB(default={})  # {"timezone": "Europe/Berlin", "days": {"mon": ["09:00", "17:00"], ...}}
    timeout_seconds = Integer(default=60)
    ivr = JSONB(default={})  # {"1": "sales", "2": "support"}: digit -> queue key
    offer_callback = Boolean(default=False)
    """Callers waiting in a queue hear "press 1 to be called back without losing your place" (telephony.callbacks)."""
    updated_at = Timestamptz(default=TimestamptzNow())


class OperatorDevice(Table, tablename="operator_device"):
    """Where an operator answers calls: a phone number (E.164) or a SIP address."""

    id: Serial
    user = ForeignKey(references=User, null=False, unique=True)
    kind = Varchar(length=10)  # number | sip
    address = Varchar(length=254)


class TwilioWebhook(Table, tablename="twilio_webhook"):
    """Every signed webhook as received; `dedupe_key` makes a redelivery a no-op."""

    id: Serial
    kind = Varchar(length=20)
    sid = Varchar(length=64, index=True)
    dedupe_key = Varchar(length=200, unique=True)
    params = JSONB(default={})
    meta = JSONB(default={})  # what we decided while answering (queue key, voicemail), for the job
    received_at = Timestamptz(default=TimestamptzNow())
    processed_at = Timestamptz(null=True, default=None)
    attempts = Integer(default=0)
    last_error = Text(default="")


class Call(Table, tablename="twilio_call"):
    id: Serial
    sid = Varchar(length=64, unique=True)
    direction = Varchar(length=20)  # inbound | outbound-api | outbound-dial
    from_number = Varchar(length=254, default="")
    to_number = Varchar(length=254, default="")
    status = Varchar(length=20, default="ringing")
    last_sequence = Integer(default=-1)
    outcome = Varchar(length=20, default="")  # answered | voicemail | abandoned | missed | callback
    conversation = ForeignKey(references=Conversation, null=True)
    contact = ForeignKey(references=Contact, null=True)
    operator = ForeignKey(references=User, null=True)
    queue_key = Varchar(length=40, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    answered_at = Timestamptz(null=True, default=None)
    ended_at = Timestamptz(null=True, default=None)
    duration = Integer(null=True, default=None)
    recording_sid = Varchar(length=64, default="")
    recording_status = Varchar(length=20, default="")
    recording_duration = Integer(null=True, default=None)
    recording_key = Varchar(length=200, default="")  # storage key of our copy
    on_hold = Boolean(default=False)  # the caller is held in the call's conference (hears hold music)
    conference_name = Varchar(length=64, default="")  # the Twilio Conference the call runs in, named per join
    conference_sid = Varchar(length=64, default="")


class CallParticipant(Table, tablename="call_participant"):
    """Who is on a call's conference line, as Twilio's conference callbacks report it."""

    id: Serial
    call = ForeignKey(references=Call, null=False)
    call_sid = Varchar(length=64, unique=True)
    conference_sid = Varchar(length=64, default="")
    role = Varchar(length=20)  # customer | operator | transfer (warm transfer target) | supervisor
    user = ForeignKey(references=User, null=True)
    status = Varchar(length=20, default="ringing")  # ringing | joined | left
    muted = Boolean(default=False)
    hold = Boolean(default=False)
    coaching = Boolean(default=False)
    conference_sequence = Integer(default=-1)
    """SequenceNumber of the newest of this participant's conference events applied (its flags are from that one)."""
    offer_id = Integer(null=True, default=None)
    """Role "offer": the routing offer this leg rings for (telephony.ringing); no foreign key, routing is above us."""
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class SmsMessage(Table, tablename="sms_message"):
    id: Serial
    sid = Varchar(length=64, unique=True)
    direction = Varchar(length=10)  # in | out
    from_number = Varchar(length=30)
    to_number = Varchar(length=30)
    body = Text(default="")
    status = Varchar(length=20, default="queued")
    error_code = Varchar(length=10, default="")
    contact = ForeignKey(references=Contact, null=True)
    conversation = ForeignKey(references=Conversation, null=True)
    interaction_id = Integer(null=True, default=None)
    sent_by = ForeignKey(references=User, null=True)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
