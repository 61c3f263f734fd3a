"""Tasks: callbacks, follow-ups and to-dos on a contact, with an assignee or a queue, a due time, reminders and
recurrence; the scheduler behind them (reminder jobs that fire once across workers and catch up after downtime)."""
