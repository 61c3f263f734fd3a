"""The staff roles and their order: a base fact that accounts (guards, invitations), realtime (role channels) and
the templates all read, declared once here."""

from __future__ import annotations

ROLES = ("owner", "admin", "supervisor", "operator")
"""Highest first, as forms list them."""

RANK = {"operator": 1, "supervisor": 2, "admin": 3, "owner": 4}
"""A role may do what every role of a lower rank may do."""
