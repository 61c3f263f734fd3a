"""Business hours: calendars (weekly intervals, holidays, overrides), one per queue, and outside-hours behaviour."""
