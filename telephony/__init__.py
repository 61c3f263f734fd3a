"""Telephony through Twilio: webhooks, TwiML, the per-tenant REST client, calls, recordings, SMS; and a simulator."""
