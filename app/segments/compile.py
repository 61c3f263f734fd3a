"""A segment's condition tree compiled to ONE SQL query over `contact c`: each leaf becomes a boolean expression
(never NULL, so `not` means what the automation evaluator means), order aggregates come from one lateral
subquery, RFM scores from one window query over the shop's buyers, consent from the latest ledger entry, last
contact channel from the timeline. Values are always $n parameters; identifiers come from the field table.

The semantics follow app.lib.conditions.evaluate (text compares trimmed and case-folded, `contains` on a list is
membership, gt/lt on a missing value is false), so a rule and a segment agree on the same contact."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from app.lib import conditions
from app.lib.errors import Invalid
from app.segments import fields as F

BASE_WHERE = ("c.deleted_at IS NULL AND c.merged_into IS NULL AND NOT EXISTS (SELECT 1 FROM privacy_request pr "
              "WHERE pr.contact = c.id AND pr.kind = 'erase' AND pr.status = 'done')")
"""Contacts a segment may hold: not deleted, not merged away, not erased."""

SALE = "coalesce(s.counts_as_sale, true)"
"""Over `shop_order o LEFT JOIN order_status s ON s.key = o.status` (app.orders.revenue.SALE_SQL)."""
NET = "(o.paid - o.refunded)"
"""An order's net total (app.orders.revenue.NET_TOTAL_SQL)."""

ORDER_AGG = (
    "LEFT JOIN LATERAL (SELECT max(o.placed_at) FILTER (WHERE " + SALE + ") AS last_order_at, "
    "count(*) FILTER (WHERE " + SALE + ")::int AS orders_count, coalesce(sum(" + NET + "), 0)::bigint AS total_spent "
    "FROM shop_order o LEFT JOIN order_status s ON s.key = o.status WHERE o.contact = c.id) oa ON true")

RFM_CTE = (
    "WITH buyers AS (SELECT o.contact, max(o.placed_at) FILTER (WHERE " + SALE + ") AS last_order_at, "  # noqa: S608
    "count(*) FILTER (WHERE " + SALE + ")::int AS frequency, coalesce(sum(" + NET + "), 0)::bigint AS monetary "
    "FROM shop_order o LEFT JOIN order_status s ON s.key = o.status JOIN contact bc ON bc.id = o.contact "
    "AND bc.deleted_at IS NULL GROUP BY o.contact HAVING count(*) FILTER (WHERE " + SALE + ") > 0), "
    "rfm AS (SELECT contact, frequency, monetary, "
    "greatest(0, floor(extract(epoch FROM now() - last_order_at) / 86400))::int AS recency_days, "
    # ceil(5 * share of buyers at or below this value), in integers: ties share a score, 5 is the best fifth.
    "((5 * count(*) OVER (ORDER BY last_order_at) + count(*) OVER () - 1) / count(*) OVER ())::int AS r, "
    "((5 * count(*) OVER (ORDER BY frequency) + count(*) OVER () - 1) / count(*) OVER ())::int AS f, "
    "((5 * count(*) OVER (ORDER BY monetary) + count(*) OVER () - 1) / count(*) OVER ())::int AS m "
    "FROM buyers)")
"""RFM of every buyer (a contact with at least one sale), as the CTE `rfm(contact, recency_days, frequency,
monetary, r, f, m)`."""

_SHOWN = "(us.kind <> 'reorder' OR us.due_on <= current_date)"
"""A suggestion the card would show: pairs always, a reorder once it is due (app.upsell decides it the same way)."""

_COLUMNS = {"contact.name": "c.name", "contact.company": "c.company", "contact.language": "c.language",
            "contact.temperature": "c.temperature", "contact.last_contact_at": "c.last_contact_at",
            "contact.orders_count": "oa.orders_count", "contact.total_spent": "oa.total_spent",
            "contact.last_order_at": "oa.last_order_at", "contact.rfm_r": "rfm.r", "contact.rfm_f": "rfm.f",
            "contact.rfm_m": "rfm.m"}
_NEEDS_ORDERS = frozenset({"contact.orders_count", "contact.total_spent", "contact.last_order_at"})
_NEEDS_RFM = frozenset({"contact.rfm_r", "contact.rfm_f", "contact.rfm_m"})
_LAST_CHANNEL = ("(SELECT i.channel FROM interaction i WHERE i.contact = c.id AND i.channel = ANY({channels}) "
                 "ORDER BY i.occurred_at DESC, i.id DESC LIMIT 1)")
_CONSENT = ("coalesce((SELECT e.status FROM consent_entry e WHERE e.contact = c.id AND e.channel = '{channel}' "
            "AND e.purpose = 'marketing' ORDER BY e.at DESC, e.id DESC LIMIT 1), 'none')")
_BOUGHT = ("EXISTS (SELECT 1 FROM shop_order o JOIN order_item i ON i.shop_order = o.id LEFT JOIN order_status s "  # noqa: S608
           "ON s.key = o.status WHERE o.contact = c.id AND " + SALE + " AND {match})")
MAX_SEGMENT_DEPTH = 4
MAX_DAYS = 36_500
MAX_NUMBER = 10**15


def last_channel_sql(channels_arg: str) -> str:
    """The channel of contact `c`'s latest conversation on the timeline; `channels_arg` is a $n of the keys."""
    return _LAST_CHANNEL.format(channels=f"{channels_arg}::varchar[]")


def consent_sql(channel: str) -> str:
    """`c`'s latest marketing consent on a channel (opt_in | opt_out | none)."""
    if channel not in F.CONSENT_CHANNELS:
        raise ValueError(channel)
    return _CONSENT.format(channel=channel)


def norm(sql: str) -> str:
    return f"lower(btrim({sql}))"


def check(tree: Any, *, where: str = "definition") -> dict[str, Any]:
    """The tree as stored, or Invalid naming the node to fix (`definition.all[1].op`)."""
    tree = conditions.check(tree, F.known, where=where, fields=tuple(F.BY_PATH))
    _ops(tree, where)
    return tree


def _ops(node: dict[str, Any], where: str) -> None:
    for key in ("all", "any"):
        if key in node:
            for i, child in enumerate(node[key]):
                _ops(child, f"{where}.{key}[{i}]")
            return
    if "not" in node:
        _ops(node["not"], f"{where}.not")
        return
    op = node["op"]
    if op == "has_tag":
        return
    if op in conditions.FIELDLESS:
        raise Invalid("The operator %(op)s is not for segments.", field=f"{where}.op", op=op)
    f = F.field(str(node.get("field")))
    assert f is not None  # (checked above)
    allowed = F.KIND_OPS[f.kind]
    if op not in allowed:
        raise Invalid("The field %(name)s takes these operators: %(choices)s.", field=f"{where}.op", name=f.path,
                      choices=", ".join(allowed))
    value = node.get("value")
    if f.kind == "segment" and not (isinstance(value, int) and not isinstance(value, bool)):
        raise Invalid("In segment needs the segment's id (a number).", field=f"{where}.value")
    if f.kind == "choice" and op in ("equals", "not_equals", "in"):
        given = value if isinstance(value, list) else [value]
        wrong = [v for v in given if str(v).strip().casefold() not in f.options]
        if wrong:
            raise Invalid("%(name)s is one of: %(choices)s.", field=f"{where}.value", name=f.path,
                          choices=", ".join(f.options))
    if op in ("equals", "not_equals", "contains") and f.kind != "segment" and value is None:
        raise Invalid("The operator %(op)s needs a value.", field=f"{where}.value", op=op)
    if f.kind == "number" and op in ("equals", "not_equals") and not _is_number(value):
        raise Invalid("%(name)s is a number.", field=f"{where}.value", name=f.path)
    if op in ("days_ago_lt", "days_ago_gt") and not 0 <= float(value) <= MAX_DAYS:
        raise Invalid("A number of days from 0 to %(max)s.", field=f"{where}.value", max=MAX_DAYS)
    if op in ("gt", "lt", "equals", "not_equals") and _is_number(value) and abs(float(value)) > MAX_NUMBER:
        raise Invalid("A number from -%(max)s to %(max)s.", field=f"{where}.value", max=MAX_NUMBER)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


class Compiler:
    """One compilation: the $n arguments, which joins the leaves need, the segments already being expanded."""

    def __init__(self, segments: Mapping[int, Mapping[str, Any]], args: list[Any] | None = None,
                 stack: tuple[int, ...] = ()) -> None:
        self.segments = segments
        self.args = args if args is not None else []
        self.stack = stack
        self.orders = False
        self.rfm = False

    def arg(self, value: Any, cast: str = "") -> str:
        self.args.append(value)
        return f"${len(self.args)}{cast}"

    def query(self, tree: dict[str, Any], where: str = "definition") -> str:
        cond = self.node(tree, where)
        joins = ""
        if self.orders:
            joins += " " + ORDER_AGG
        if self.rfm:
            joins += " LEFT JOIN rfm ON rfm.contact = c.id"
            # The CTE sits in a subquery, so a segment inside another segment stays one valid query.
            return (f"SELECT q.id FROM ({RFM_CTE} SELECT c.id FROM contact c{joins} "  # noqa: S608 (identifiers only)
                    f"WHERE {BASE_WHERE} AND {cond}) q")
        return f"SELECT c.id FROM contact c{joins} WHERE {BASE_WHERE} AND {cond}"  # noqa: S608 (identifiers only)

    def node(self, node: dict[str, Any], where: str) -> str:
        if "all" in node:
            parts = [self.node(child, f"{where}.all[{i}]") for i, child in enumerate(node["all"])]
            return "(" + " AND ".join(parts) + ")" if parts else "true"
        if "any" in node:
            parts = [self.node(child, f"{where}.any[{i}]") for i, child in enumerate(node["any"])]
            return "(" + " OR ".join(parts) + ")" if parts else "false"
        if "not" in node:
            return f"(NOT {self.node(node['not'], where + '.not')})"
        sql = self.leaf(node, where)
        # EXISTS is never NULL, and a bare EXISTS under AND lets the planner make it a semi-join (coalesce() around
        # it kept it a per-contact subplan: 13x slower for "bought category" in bench_segments).
        return sql if sql.startswith(("EXISTS", "(c.id IN")) else f"coalesce({sql}, false)"

    def leaf(self, node: dict[str, Any], where: str) -> str:
        op, path, value = node["op"], str(node.get("field") or ""), node.get("value")
        if op == "has_tag":
            op, path = "contains", "contact.tags"
        f = F.field(path)
        assert f is not None
        if path == "contact.in_segment":
            return self.in_segment(int(value), where)
        if f.kind == "list":
            return self.list_leaf(path, op, value)
        if path.startswith(F.CUSTOM_PREFIX):
            key = self.arg(path[len(F.CUSTOM_PREFIX):])
            sql = f"(c.custom ->> {key})"
            if op in ("gt", "lt", "equals", "not_equals", "in") and _is_number(value if op != "in" else None):
                num = f"(CASE WHEN {sql} ~ '^\\s*-?[0-9]+(\\.[0-9]+)?\\s*$' THEN {sql}::numeric END)"
                return self.scalar(num, op, value, number=True, text_sql=sql)
            return self.scalar(sql, op, value, number=False)
        if path in _NEEDS_ORDERS:
            self.orders = True
        if path in _NEEDS_RFM:
            self.rfm = True
        if path == "contact.last_channel":
            sql = last_channel_sql(self.arg(list(F.LAST_CHANNELS)))
        elif path.startswith("contact.consent_marketing_"):
            sql = consent_sql(path.rsplit("_", 1)[1])
        elif path == "upsell.reorder_due":
            due = ("EXISTS (SELECT 1 FROM upsell_suggestion us WHERE us.contact = c.id AND us.kind = 'reorder' "
                   "AND us.due_on <= current_date)")
            sql = f"(CASE WHEN {due} THEN 'yes' ELSE 'no' END)"
        else:
            sql = _COLUMNS[path]
        if f.kind == "datetime":
            return self.datetime(sql, op, value)
        return self.scalar(sql, op, value, number=f.kind == "number")

    def scalar(self, sql: str, op: str, value: Any, *, number: bool, text_sql: str | None = None) -> str:
        if op == "is_set":
            return f"({sql} IS NOT NULL)" if number else f"({sql} IS NOT NULL AND {sql} <> '')"
        if op in ("gt", "lt"):
            if not number:
                return "false"
            return f"({sql} {'>' if op == 'gt' else '<'} {self.arg(float(value), '::numeric')})"
        if op in ("equals", "not_equals"):
            if number and _is_number(value):
                test = f"({sql} = {self.arg(float(value), '::numeric')})"
                if text_sql is not None:  # a custom field: "5" equals 5, and "abc" equals "ABC"
                    test = f"({test} OR {norm(text_sql)} = {norm(self.arg(str(value)))})"
            else:
                test = f"({norm(sql + '::text')} = {norm(self.arg(str(value)))})"
            return test if op == "equals" else f"(NOT coalesce({test}, false))"
        if op == "in":
            values = [str(v).strip().casefold() for v in (value or [])]
            return f"({norm(sql + '::text')} = ANY({self.arg(values, '::text[]')}))"
        if op == "contains":
            return f"(strpos(lower({sql}::text), {norm(self.arg(str(value)))}) > 0)"
        raise Invalid("The operator %(op)s is not for segments.", field="op", op=op)

    def datetime(self, sql: str, op: str, value: Any) -> str:
        if op == "is_set":
            return f"({sql} IS NOT NULL)"
        cutoff = f"(now() - make_interval(secs => {self.arg(float(value) * 86400, '::float8')}))"
        return f"({sql} > {cutoff})" if op == "days_ago_lt" else f"({sql} < {cutoff})"

    def list_leaf(self, path: str, op: str, value: Any) -> str:
        if op == "is_set":
            return {
                "contact.tags": "(cardinality(c.tags) > 0)",
                "contact.phones": "EXISTS (SELECT 1 FROM contact_phone p WHERE p.contact = c.id)",
                "contact.emails": "EXISTS (SELECT 1 FROM contact_email e WHERE e.contact = c.id)",
                "contact.bought_product": _BOUGHT.format(match="true"),
                "contact.bought_category": _BOUGHT.format(match="i.category <> ''"),
                "upsell.suggested_product": ("EXISTS (SELECT 1 FROM upsell_suggestion us WHERE us.contact = c.id "  # noqa: S608
                                             f"AND {_SHOWN})"),
            }[path]
        v = norm(self.arg(str(value)))
        # Identifiers and functions only; the value is the parameter `v`.
        tests = {
            "contact.tags": f"EXISTS (SELECT 1 FROM unnest(c.tags) t WHERE {norm('t')} = {v})",  # noqa: S608
            "contact.phones": ("EXISTS (SELECT 1 FROM contact_phone p WHERE p.contact = c.id "  # noqa: S608
                               f"AND {norm('p.e164')} = {v})"),
            "contact.emails": ("EXISTS (SELECT 1 FROM contact_email e WHERE e.contact = c.id "  # noqa: S608
                               f"AND {norm('e.email')} = {v})"),
            "contact.bought_product": _BOUGHT.format(match=f"({norm('i.sku')} = {v} OR {norm('i.name')} = {v})"),
            "contact.bought_category": _BOUGHT.format(match=f"{norm('i.category')} = {v}"),
            "upsell.suggested_product": ("EXISTS (SELECT 1 FROM upsell_suggestion us "  # noqa: S608
                                         f"WHERE us.contact = c.id AND {_SHOWN} AND ({norm('us.product_key')} = {v} "
                                         f"OR {norm('us.product_name')} = {v}))"),
        }
        return tests[path]

    def in_segment(self, segment_id: int, where: str) -> str:
        if segment_id not in self.segments:
            raise Invalid("There is no segment %(id)s.", field=f"{where}.value", id=segment_id)
        if segment_id in self.stack:
            raise Invalid("A segment cannot contain itself (through segment %(id)s).", field=f"{where}.value",
                          id=segment_id)
        if len(self.stack) >= MAX_SEGMENT_DEPTH:
            raise Invalid("Segments nest at most %(max)s deep.", field=f"{where}.value", max=MAX_SEGMENT_DEPTH)
        inner = Compiler(self.segments, self.args, (*self.stack, segment_id))
        return f"(c.id IN ({inner.members(segment_id)}))"

    def members(self, segment_id: int) -> str:
        seg = self.segments[segment_id]
        if seg["kind"] == "static":
            return (f"SELECT c.id FROM segment_member m JOIN contact c ON c.id = m.contact "  # noqa: S608
                    f"WHERE m.segment = {self.arg(segment_id)} AND {BASE_WHERE}")
        return self.query(tree_of(seg["definition"]), where=f"segment {segment_id}")


def tree_of(definition: Any) -> dict[str, Any]:
    """A stored definition (asyncpg hands jsonb over as text) as a tree."""
    if isinstance(definition, str):
        definition = json.loads(definition)
    return definition or {"all": []}


def segments_in(node: dict[str, Any]) -> set[int]:
    """The segment ids a tree's `contact.in_segment` leaves name."""
    for key in ("all", "any"):
        if key in node:
            return set().union(*(segments_in(child) for child in node[key])) if node[key] else set()
    if "not" in node:
        return segments_in(node["not"])
    if node.get("field") == "contact.in_segment" and isinstance(node.get("value"), int):
        return {node["value"]}
    return set()


def segment_sql(segment_id: int, segments: Mapping[int, Mapping[str, Any]]) -> tuple[str, list[Any]]:
    """The SELECT of a saved segment's contact ids and its arguments."""
    c = Compiler(segments, stack=(segment_id,))
    return c.members(segment_id), c.args


def definition_sql(tree: dict[str, Any], segments: Mapping[int, Mapping[str, Any]], *,
                   editing: int | None = None) -> tuple[str, list[Any]]:
    """The SELECT of an unsaved definition (a preview, or the segment `editing` before it is saved)."""
    tree = check(tree)
    c = Compiler(segments, stack=(editing,) if editing is not None else ())
    return c.query(tree), c.args
