"""The queue service report (`queues`): offered, answered, abandoned, service level with the tenant's formula.

Contract for the wallboard (R4): `service_today(queue_id)`; the body lands once R1's report kit is merged.
"""

from __future__ import annotations

from typing import Any


async def service_today(queue_id: int | None = None) -> dict[str, Any]:
    """Today's service (the workspace's day) for one queue, or every queue when `queue_id` is None.

    Runs inside the caller's tenant unit of work. Answers
    `{"offered": int, "answered": int, "abandoned": int, "short_abandons": int, "callbacks": int,
      "service_level": float | None,   # 0..1; None when the formula's denominator is 0
      "formula": str,                  # msgid of the tenant's service-level formula, translate when shown
      "longest_wait_seconds": int}`    # longest wait of a visit that ended today (answered or left)
    """
    raise NotImplementedError
