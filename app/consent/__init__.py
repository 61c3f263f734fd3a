"""Consent ledger (append-only, per contact, channel and purpose) and the suppression list of opted-out addresses."""
