"""Projection of one conversation's history into the reporting facts (queue visits, agent legs, response and
resolution, offers) and the rollups of the buckets they touch. The one function both the live listener and the
rebuild call, so a rebuild equals the live facts."""

from __future__ import annotations


async def project(conversation_id: int) -> None:
    """Replace the facts of `conversation_id` with what its history says now, and refresh the rollups of every
    15-minute bucket the old or new facts touch. A conversation that no longer exists loses its facts."""
    raise NotImplementedError
