"""Types every input on the wire shares: numbers the database can hold. An id of 2³¹ or more, or a position past
PostgreSQL's `integer`, is refused with a 400 naming the field before a handler runs, and `/schema` says so."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

Id = Annotated[int, Meta(ge=1, le=INT32_MAX, description="A record's id (1 to 2147483647).")]
"""A record's id, in a path, a query or a body."""

DbInt = Annotated[int, Meta(ge=INT32_MIN, le=INT32_MAX)]
"""Any other whole number stored in an `integer` column: positions, versions, counts, limits, offsets."""

Money = Annotated[int, Meta(ge=INT64_MIN, le=INT64_MAX, description="An amount in minor units (cents).")]
"""An amount in minor units, stored in a `bigint` column."""
