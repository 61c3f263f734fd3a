"""A Twilio simulator for development and tests: Twilio's REST API, signed webhooks, TwiML execution."""

from telephony.simulator.core import Call, Simulator
from telephony.simulator.rest import create_app

__all__ = ["Call", "Simulator", "create_app"]
