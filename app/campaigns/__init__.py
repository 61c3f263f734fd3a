"""Campaigns: SMS or email to a segment with consent checked per message, and what each campaign brought."""
