"""Deals: the tenant's sales pipeline (stages, value, owner, linked contact and orders) shown as a kanban board."""
