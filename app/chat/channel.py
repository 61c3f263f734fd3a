"""Web chat as a channel (app/channels.py): what the console, the registry and merges need to know."""

from __future__ import annotations

from app.channels import Channel
from app.chat import live, services

CHAT = Channel(key="chat", label="Chat", icon="chat", settings_path="settings/chat", merge_step="chat",
               console_partial="_partials/console_chat.html", console_extras=live.console_extras,
               send=services.operator_reply, notice=services.auto_message)
