"""Upsell from the shop's own orders: "bought X, also bought Y" pairs and reorder intervals, suggestions with their
reason, and what the suggestions brought."""
