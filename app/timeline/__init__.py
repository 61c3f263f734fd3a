"""The timeline: every interaction with a contact on every channel, in one table, written through one service."""
