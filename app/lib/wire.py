"""Types every input on the wire shares: numbers the database can hold. An id of 2³¹ or more, or a position past
PostgreSQL's `integer`, is refused with a 400 naming the field before a handler runs, and `/schema` says so.

Bodies (msgspec structs) use `Id`, `DbInt`, `Money`. Path and query parameters use the `Path*`/`Query*` spellings:
Litestar replaces a parameter's msgspec `Meta` with one built from its `Parameter(...)`, so their bounds live there.
A partial update's body subclasses `Patch`.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar.params import PathParameter, QueryParameter
from msgspec import Meta

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_ID = f"A record's id (1 to {INT32_MAX})."
_MONEY = "An amount in minor units (cents)."

Id = Annotated[int, Meta(ge=1, le=INT32_MAX, description=_ID)]
"""A record's id in a body."""

DbInt = Annotated[int, Meta(ge=INT32_MIN, le=INT32_MAX)]
"""Any other whole number stored in an `integer` column: positions, versions, counts, quantities."""

Money = Annotated[int, Meta(ge=INT64_MIN, le=INT64_MAX, description=_MONEY)]
"""An amount in minor units, stored in a `bigint` column."""

PathId = Annotated[int, PathParameter(ge=1, le=INT32_MAX, description=_ID)]
"""A record's id in the path: `{contact_id:int}` with `contact_id: PathId`."""

QueryId = Annotated[int | None, QueryParameter(ge=1, le=INT32_MAX, description=_ID)]
"""An optional filter or cursor naming a record."""

QueryInt = Annotated[int, QueryParameter(ge=INT32_MIN, le=INT32_MAX)]
"""A whole number in the query with a default: limits, offsets."""

QueryOptInt = Annotated[int | None, QueryParameter(ge=INT32_MIN, le=INT32_MAX)]
"""An optional whole number in the query."""

QueryMoney = Annotated[int | None, QueryParameter(ge=INT64_MIN, le=INT64_MAX, description=_MONEY)]
"""An optional amount in minor units in the query."""


class Patch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """A partial update: its fields default to `msgspec.UNSET`, and only the fields present change. A `version`
    field, when the patch has one, is the optimistic-concurrency check, not a change."""

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, by name (without `version`)."""
        return {f: getattr(self, f) for f in self.__struct_fields__
                if f != "version" and getattr(self, f) is not msgspec.UNSET}
