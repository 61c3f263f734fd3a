"""The Twilio channel's manifest: voice and SMS webhooks, call controls, settings, the hold music."""

from __future__ import annotations

from app.lib.crypto import EncryptedColumn
from app.lib.domain import Domain
from app.lib.jobs import JobSpec
from telephony import calls, config, events, jobs, ringing, sms
from telephony.api import TelephonyApi
from telephony.console_views import CallConsoleViews, ContactPhoneViews
from telephony.views import TwilioSettingsViews
from telephony.webhook_api import TwilioWebhooks, hold_music

DOMAIN = Domain(
    name="telephony",
    routes=(TelephonyApi, TwilioSettingsViews, CallConsoleViews, TwilioWebhooks, ContactPhoneViews),
    public_routes=(hold_music,),
    jobs={"telephony.process_webhook": JobSpec(jobs.process_webhook), ringing.RING_JOB: JobSpec(ringing.ring_job),
          ringing.STOP_JOB: JobSpec(ringing.stop_job)},
    merge_steps=(calls.MERGE_STEP,),
    piccolo_app="telephony.piccolo_app",
    secrets=(EncryptedColumn("twilio_config", "auth_token_enc", config.TOKEN_PURPOSE),),
    events=events,
    quota_usage={"messages_per_day": sms.sent_today},
)
