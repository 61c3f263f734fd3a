"""Conversations: interactions waiting in queues (topics), taken by operators, transferred, wrapped up."""
