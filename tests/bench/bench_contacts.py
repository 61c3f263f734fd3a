"""Contacts: search p50/p95 (phone, partial name/email/company) at 100k and 1M contacts in one tenant; timeline pages.

Everything is measured through the service functions the API handlers call, each call in its own
`tenant_context` (BEGIN; SET LOCAL search_path; ...; COMMIT), one call at a time:
- `app.contacts.services.search(ContactFilter(q=...))` for phone queries (international and national format,
  and the last 7 digits), and partial name / email / company substrings of random existing contacts;
- `app.timeline.services.page(contact, before=...)` for a contact with 10k interactions: first page and deep pages.

Data: one tenant created by `tenants.services.signup` (real schema and indexes), then bulk-loaded with asyncpg
COPY into contact (search_text computed as `_refresh_search_text` does, checked in SQL on a sample),
contact_phone (valid E.164, checked with phonenumbers on a sample) and contact_email; names and companies from
Faker's en_US word lists. Load SMALL, VACUUM ANALYZE, measure; then load up to LARGE, VACUUM ANALYZE, measure.

Sizes (environment): BENCH_CONTACTS_SMALL (100000), BENCH_CONTACTS_LARGE (1000000; 0 or <= SMALL skips the second
step), BENCH_CONTACTS_QUERIES (200 per kind), BENCH_CONTACTS_WARMUP (20 per kind), BENCH_CONTACTS_KIND_SECONDS
(20: time cap per kind and size), BENCH_TIMELINE_INTERACTIONS (10000), BENCH_TIMELINE_BACKGROUND (100000 on other
contacts), BENCH_TIMELINE_PAGES (200 per kind), BENCH_CONTACTS_CHUNK (100000 rows per COPY), BENCH_CONTACTS_WHATIF
(0; 1 adds, at the end, substring id queries timed with an ORDER BY no index serves: ~20 s at 1M).
"""

from __future__ import annotations

import datetime as dt
import random
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg

from tests.bench.harness import BenchContext, percentiles

SEED = 20261123

# US area codes (real, geographic) for generated numbers; exchanges N11, 555, 950, 958, 959, 976 are left out.
US_AREAS = (201, 202, 203, 205, 206, 207, 208, 212, 213, 214, 215, 216, 217, 301, 302, 303, 305, 310, 312, 313,
            314, 315, 404, 405, 407, 408, 410, 412, 415, 503, 504, 505, 510, 512, 602, 612, 615, 617, 702, 713,
            718, 720, 754, 786, 801, 804, 808, 813, 818, 832, 904, 916, 917, 919, 925, 949, 954, 971, 973)
BAD_EXCHANGES = {211, 311, 411, 511, 555, 611, 711, 811, 911, 950, 958, 959, 976}
FREE_MAIL = ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "proton.me", "aol.com")
CHANNELS = ("call", "sms", "email", "chat", "note", "order", "task")
SUMMARIES = {
    "call": ("Inbound call, 3m 12s", "Missed call", "Outbound call, 45s", "Callback requested"),
    "sms": ("Where is my order?", "Thanks!", "Your order has shipped", "Reminder: appointment tomorrow"),
    "email": ("Re: invoice 1043", "Question about delivery", "Welcome to the shop", "Return request"),
    "chat": ("Chat started on the website", "Asked about sizes", "Chat closed by operator"),
    "note": ("Prefers calls after 6pm", "VIP customer, be nice", "Asked to be removed from promos"),
    "order": ("Order #10234 placed", "Order #10234 paid", "Order #10234 refunded"),
    "task": ("Call back about the return", "Send the catalogue"),
}


@dataclass
class Sample:
    """What the queries are drawn from: a few thousand existing contacts with their identities."""

    contacts: list[tuple[int, str, str, list[str], list[str]]] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------------------
# Data generation


class Generator:
    def __init__(self, seed: int) -> None:
        from faker.providers.company.en_US import Provider as Company
        from faker.providers.person.en_US import Provider as Person

        self.rnd = random.Random(seed)
        firsts = dict(Person.first_names)  # weighted (name -> frequency)
        lasts = dict(Person.last_names)
        self.first_names, self.first_w = list(firsts), [float(w) for w in firsts.values()]
        self.last_names, self.last_w = list(lasts), [float(w) for w in lasts.values()]
        self.suffixes = list(Company.company_suffixes)
        self.now = dt.datetime.now(dt.UTC)
        # Unique US numbers: index -> (area, exchange, line) through a fixed permutation of the number space.
        self.exchanges = [e for e in range(200, 1000) if e not in BAD_EXCHANGES]
        self.us_space = len(US_AREAS) * len(self.exchanges) * 10_000
        self.us_step = 1_000_003  # prime, coprime with the space size
        self.ru_space = 1_000_000_000
        self.ru_step = 999_999_937

    def us_phone(self, n: int) -> str:
        k = (n * self.us_step + 12_345) % self.us_space
        k, line = divmod(k, 10_000)
        area, ex = divmod(k, len(self.exchanges))
        return f"+1{US_AREAS[area]}{self.exchanges[ex]}{line:04d}"

    def ru_phone(self, n: int) -> str:
        k = (n * self.ru_step + 777) % self.ru_space
        return f"+79{k:09d}"  # Russian mobile range 9XX

    def company(self) -> str:
        r = self.rnd.random()
        pick = lambda: self.rnd.choices(self.last_names, self.last_w)[0]  # noqa: E731
        if r < 0.30:
            return ""
        if r < 0.75:
            return f"{pick()} {self.rnd.choice(self.suffixes)}"
        if r < 0.92:
            return f"{pick()}-{pick()}"
        return f"{pick()}, {pick()} and {pick()}"

    def batch(self, first_id: int, count: int) -> tuple[list[tuple], list[tuple], list[tuple]]:
        """Rows for contact (id, name, company, search_text, created_at, updated_at), contact_phone, contact_email."""
        rnd = self.rnd
        contacts, phones, emails = [], [], []
        fn = rnd.choices(self.first_names, self.first_w, k=count)
        ln = rnd.choices(self.last_names, self.last_w, k=count)
        for i in range(count):
            cid = first_id + i
            first, last = fn[i], ln[i]
            name = f"{first} {last}" if rnd.random() > 0.03 else first
            company = self.company()
            # 1 phone usually, a second one for 30%, none for 5%; 1 in 4 second phones is a Russian mobile.
            nums: list[str] = []
            if rnd.random() > 0.05:
                nums.append(self.us_phone(2 * cid))
                if rnd.random() < 0.30:
                    nums.append(self.ru_phone(cid) if rnd.random() < 0.25 else self.us_phone(2 * cid + 1))
            mails: list[str] = []
            if rnd.random() > 0.15:
                style = rnd.random()
                local = (f"{first}.{last}" if style < 0.4 else f"{first[0]}{last}" if style < 0.7
                         else f"{first}{last[0]}")
                local = re.sub(r"[^a-z0-9.]", "", local.lower()) + (str(rnd.randint(1, 999)) if rnd.random() < 0.6 else "")
                if company and rnd.random() < 0.4:
                    domain = re.sub(r"[^a-z0-9]", "", company.split()[0].lower().split(",")[0]) + ".com"
                else:
                    domain = rnd.choice(FREE_MAIL)
                mails.append(f"{local}@{domain}")
                if rnd.random() < 0.15:
                    mails.append(f"{last.lower()}{rnd.randint(10, 99)}@{rnd.choice(FREE_MAIL)}")
            # Exactly _refresh_search_text: trim(concat_ws(' ', lower(name), lower(company),
            #   string_agg(email, ' '), string_agg(ltrim(e164, '+'), ' '))); NULL aggregates are skipped.
            parts = [name.lower(), company.lower()]
            if mails:
                parts.append(" ".join(mails))
            if nums:
                parts.append(" ".join(p.lstrip("+") for p in nums))
            search_text = " ".join(parts).strip()
            created = self.now - dt.timedelta(seconds=rnd.randint(86_400, 3 * 365 * 86_400))
            updated = created + dt.timedelta(seconds=rnd.randint(0, int((self.now - created).total_seconds())))
            contacts.append((cid, name, company, search_text, created, updated))
            phones.extend((cid, p, "mobile" if j else "", j) for j, p in enumerate(nums))
            emails.extend((cid, m, "", j) for j, m in enumerate(mails))
        return contacts, phones, emails


async def load_contacts(ctx: BenchContext, conn: asyncpg.Connection, schema: str, gen: Generator, start_id: int,
                        count: int, chunk: int) -> tuple[float, int, float, float]:
    """COPY `count` contacts (ids start_id..) with phones and emails; returns (seconds, rows, generate s, COPY s)."""
    gen_s = copy_s = 0.0
    rows = 0
    done = 0
    while done < count:
        n = min(chunk, count - done)
        t0 = time.perf_counter()
        contacts, phones, emails = gen.batch(start_id + done, n)
        t1 = time.perf_counter()
        async with conn.transaction():
            await conn.copy_records_to_table(
                "contact", records=contacts, schema_name=schema,
                columns=("id", "name", "company", "search_text", "created_at", "updated_at"))
            await conn.copy_records_to_table("contact_phone", records=phones, schema_name=schema,
                                             columns=("contact", "e164", "label", "position"))
            await conn.copy_records_to_table("contact_email", records=emails, schema_name=schema,
                                             columns=("contact", "email", "label", "position"))
        t2 = time.perf_counter()
        gen_s += t1 - t0
        copy_s += t2 - t1
        rows += len(contacts) + len(phones) + len(emails)
        done += n
        ctx.log(f"  {start_id + done - 1:>9,} contacts loaded (chunk: generate {t1 - t0:.1f} s, COPY {t2 - t1:.1f} s)")
    await conn.execute(f"SELECT setval(pg_get_serial_sequence('\"{schema}\".contact', 'id'), $1)",
                       start_id + count - 1)
    return gen_s + copy_s, rows, gen_s, copy_s


async def verify_data(ctx: BenchContext, conn: asyncpg.Connection, schema: str) -> None:
    """search_text equals what _refresh_search_text computes, and the stored phones are valid numbers."""
    import phonenumbers

    q = f'"{schema}"'
    mismatched = await conn.fetchval(f"""
        WITH s AS (SELECT id FROM {q}.contact TABLESAMPLE SYSTEM (1) LIMIT 2000)
        SELECT count(*) FILTER (WHERE c.search_text <> trim(concat_ws(' ', lower(c.name), lower(c.company),
                   (SELECT string_agg(e.email, ' ') FROM {q}.contact_email e WHERE e.contact = c.id),
                   (SELECT string_agg(ltrim(p.e164, '+'), ' ') FROM {q}.contact_phone p WHERE p.contact = c.id))))
        FROM {q}.contact c JOIN s USING (id)""")
    phones = [r["e164"] for r in await conn.fetch(
        f"SELECT e164 FROM {q}.contact_phone TABLESAMPLE SYSTEM (1) LIMIT 2000")]
    invalid = [p for p in phones if not phonenumbers.is_valid_number(phonenumbers.parse(p))]
    dup = await conn.fetchval(f"SELECT count(*) FROM (SELECT e164 FROM {q}.contact_phone GROUP BY e164 "
                              "HAVING count(*) > 1) d")
    ctx.log(f"check: search_text differs from the SQL of _refresh_search_text on {mismatched} of a ~2000-row sample; "
            f"{len(invalid)} of {len(phones)} sampled phones invalid per phonenumbers"
            + (f" (e.g. {invalid[:3]})" if invalid else "") + f"; {dup} duplicated numbers")
    if mismatched or invalid:
        raise RuntimeError("generated data does not match the app's rules (see the check above)")


async def draw_sample(conn: asyncpg.Connection, schema: str, n: int, rnd: random.Random, max_id: int) -> Sample:
    q = f'"{schema}"'
    ids = rnd.sample(range(1, max_id + 1), min(n, max_id))
    rows = await conn.fetch(f"""
        SELECT c.id, c.name, c.company,
               coalesce((SELECT array_agg(p.e164 ORDER BY p.position) FROM {q}.contact_phone p WHERE p.contact = c.id), '{{}}') AS phones,
               coalesce((SELECT array_agg(e.email ORDER BY e.position) FROM {q}.contact_email e WHERE e.contact = c.id), '{{}}') AS emails
        FROM {q}.contact c WHERE c.id = ANY($1::int[])""", ids)
    return Sample([(r["id"], r["name"], r["company"], list(r["phones"]), list(r["emails"])) for r in rows])


# --------------------------------------------------------------------------------------------------------------
# Query kinds: each returns (query text, the contact it came from)


def query_kinds(sample: Sample, rnd: random.Random) -> dict[str, Callable[[], tuple[str, int]]]:
    import phonenumbers

    with_us = [c for c in sample.contacts if c[3] and c[3][0].startswith("+1")]
    with_mail = [c for c in sample.contacts if c[4]]
    with_company = [c for c in sample.contacts if c[2]]
    named = [c for c in sample.contacts if len(c[1]) >= 6]

    def phone_intl() -> tuple[str, int]:
        c = rnd.choice(with_us)
        d = c[3][0][2:]
        return f"+1 {d[:3]} {d[3:6]} {d[6:]}", c[0]  # "+1 415 555 0123"

    def phone_national() -> tuple[str, int]:
        c = rnd.choice(with_us)
        n = phonenumbers.parse(c[3][0])
        return phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.NATIONAL), c[0]  # "(415) 555-0123"

    def phone_last7() -> tuple[str, int]:
        c = rnd.choice(with_us)
        d = c[3][0][-7:]
        return f"{d[:3]}-{d[3:]}", c[0]  # "555-0123": partial phone, trigram path only

    def name_part() -> tuple[str, int]:
        c = rnd.choice(named)
        name = c[1].lower()
        size = rnd.randint(4, min(7, len(name)))
        start = rnd.randint(0, len(name) - size)
        return name[start:start + size].strip() or name, c[0]

    def full_name() -> tuple[str, int]:
        c = rnd.choice(named)
        return c[1], c[0]

    def email_part() -> tuple[str, int]:
        c = rnd.choice(with_mail)
        local = c[4][0].split("@")[0]
        return local, c[0]  # the part before @, e.g. "john.smith83"

    def company_part() -> tuple[str, int]:
        c = rnd.choice(with_company)
        words = [w for w in re.split(r"[ ,\-]+", c[2]) if len(w) >= 4 and w.lower() not in ("group", "sons")]
        word = (rnd.choice(words) if words else c[2]).lower()
        return word[: max(4, len(word) - rnd.randint(0, 2))], c[0]

    return {"phone +1 415 555 0123": phone_intl, "phone (415) 555-0123": phone_national,
            "phone last 7 digits": phone_last7, "name substring (4-7 chars)": name_part,
            "full name": full_name, "email local part": email_part, "company word": company_part}


# --------------------------------------------------------------------------------------------------------------
# Measurement


async def timed_series(calls: Callable[[], Awaitable[None]], n: int, warmup: int, cap_s: float) -> list[float]:
    """`warmup` unmeasured calls (at most ~cap_s / 5 seconds of them), then up to `n` measured calls within cap_s."""
    warm_end = time.perf_counter() + cap_s / 5
    for _ in range(warmup):
        await calls()
        if time.perf_counter() > warm_end:
            break
    out: list[float] = []
    deadline = time.perf_counter() + cap_s
    while len(out) < n and time.perf_counter() < deadline:
        t0 = time.perf_counter()
        await calls()
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def explain(tenant, q: str, *, analyze: bool = True) -> list[str]:
    from app.contacts import queries
    from app.contacts.services import default_region
    from app.lib.db import current_uow, tenant_context
    from app.lib.identities import try_phone

    async with tenant_context(tenant):
        f = queries.ContactFilter(q=q)
        f.phone_e164 = try_phone(q, await default_region())  # as services.search does
        sql, args = queries.build(f, limit=51, offset=0)
        opts = "ANALYZE, BUFFERS, COSTS OFF" if analyze else "COSTS OFF"
        rows = await current_uow().connection.fetch(f"EXPLAIN ({opts}) {sql}", *args)
    return [r[0] for r in rows]


def plan_summary(lines: list[str]) -> str:
    nodes = []
    for line in lines:
        m = re.search(r"((?:Parallel )?(?:Bitmap Index Scan|Index Scan Backward|Index Scan|Index Only Scan|"
                      r"Seq Scan|Bitmap Heap Scan))(?: using| on)? (\S+)", line)
        if m and not m.group(1).startswith("Bitmap Heap"):
            nodes.append(f"{m.group(1)} {m.group(2)}")
    exec_ms = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("Execution Time")), "")
    return "; ".join(dict.fromkeys(nodes)) + (f" — {exec_ms}" if exec_ms else "")


async def bench_search(ctx: BenchContext, tenant, sample: Sample, label: str, rnd: random.Random) -> None:
    from app.contacts import queries, services
    from app.lib.db import tenant_context

    n = ctx.env_int("BENCH_CONTACTS_QUERIES", 200)
    warmup = ctx.env_int("BENCH_CONTACTS_WARMUP", 20)
    cap = float(ctx.env_int("BENCH_CONTACTS_KIND_SECONDS", 20))
    ctx.section(f"search at {label} contacts: services.search(ContactFilter(q=...)) in tenant_context, "
                f"{n} random existing values per kind after {warmup} warm-up, one at a time")
    kinds = query_kinds(sample, rnd)

    for kind, make in kinds.items():
        outcomes: list[tuple[int, bool]] = []  # (rows returned, source contact among them), per call

        async def one() -> None:
            q, cid = make()
            async with tenant_context(tenant):
                items, _next = await services.search(queries.ContactFilter(q=q))
            outcomes.append((len(items), any(it["id"] == cid for it in items)))

        ms = await timed_series(one, n, warmup, cap)
        measured = outcomes[len(outcomes) - len(ms):]
        pct = percentiles(ms, (50, 95, 99))
        exact = kind.startswith("phone +") or kind.startswith("phone (") or kind == "email local part"
        found_note = (f"source contact on page 1: {sum(f for _, f in measured)}/{len(measured)}" if exact
                      else f"non-empty: {sum(1 for r, _ in measured if r)}/{len(measured)}")
        ex_q, _ = make()
        ctx.record(f"{label}: {kind} p50 / p95", f"{pct[50]:.1f} / {pct[95]:.1f}", "ms",
                   f"{len(ms)} queries (p99 {pct[99]:.0f}, max {max(ms):.0f} ms), avg "
                   f"{sum(r for r, _ in measured) / max(1, len(measured)):.1f} rows (cap 50); {found_note}; "
                   f"e.g. q={ex_q!r}")
        if len(ms) < n:
            ctx.log(f"[yellow]{kind}: time cap {cap:.0f} s reached after {len(ms)} of {n} queries[/yellow]")

    ctx.log("plans (EXPLAIN ANALYZE of the id query services.search runs, one sample each):")
    for kind, make in kinds.items():
        q, _ = make()
        lines = await explain(tenant, q)
        ctx.log(f"  {kind} q={q!r}: {plan_summary(lines)}")
        if kind in ("phone +1 415 555 0123", "name substring (4-7 chars)", "company word"):
            for line in lines:
                ctx.console.print(f"      {line}", highlight=False, markup=False, style="dim")
        ctx.record(f"{label}: plan for {kind}", plan_summary(lines), "", f"q={q!r}")
    await phone_what_if(ctx, tenant, kinds["phone +1 415 555 0123"], label)


PHONE_OR = "c.id IN (SELECT p.contact FROM contact_phone p WHERE p.e164 = "


async def phone_what_if(ctx: BenchContext, tenant, make: Callable[[], tuple[str, int]], label: str) -> None:
    """Not the app's SQL: the same id query with the phone branch as `c.id = ANY (ARRAY(subquery))`, which lets
    PostgreSQL OR two bitmaps instead of walking contact_live_updated. Shows what the proposed fix would give."""
    from app.contacts import queries
    from app.contacts.services import default_region
    from app.lib.db import current_uow, tenant_context
    from app.lib.identities import try_phone

    q, _ = make()
    f = queries.ContactFilter(q=q)
    async with tenant_context(tenant):
        region = await default_region()
    f.phone_e164 = try_phone(q, region)
    sql, args = queries.build(f, limit=51, offset=0)
    if PHONE_OR not in sql:
        ctx.log("what-if skipped: queries.build no longer writes the phone branch as expected")
        return
    head, tail = sql.split(PHONE_OR, 1)
    placeholder, rest = tail.split(")", 1)
    alt = f"{head}c.id = ANY (ARRAY(SELECT p.contact FROM contact_phone p WHERE p.e164 = {placeholder})){rest}"
    samples: dict[str, list[float]] = {"current": [], "any-array": []}
    plans: dict[str, list[str]] = {}
    async with tenant_context(tenant):
        conn = current_uow().connection
        for name, text in (("current", sql), ("any-array", alt)):
            plans[name] = [r[0] for r in await conn.fetch(f"EXPLAIN (ANALYZE, COSTS OFF) {text}", *args)]
            deadline = time.perf_counter() + 10
            while len(samples[name]) < 15 and time.perf_counter() < deadline:
                q2, _ = make()
                f2 = queries.ContactFilter(q=q2, phone_e164=try_phone(q2, region))
                s2, a2 = queries.build(f2, limit=51, offset=0)
                if name == "any-array":
                    h, t = s2.split(PHONE_OR, 1)
                    ph, r = t.split(")", 1)
                    s2 = f"{h}c.id = ANY (ARRAY(SELECT p.contact FROM contact_phone p WHERE p.e164 = {ph})){r}"
                t0 = time.perf_counter()
                await conn.fetch(s2, *a2)
                samples[name].append((time.perf_counter() - t0) * 1000)
    for name in ("current", "any-array"):
        p = percentiles(samples[name], (50, 95))
        ctx.record(f"{label}: what-if phone id query, {name} SQL p50 / p95", f"{p[50]:.1f} / {p[95]:.1f}", "ms",
                   f"id query only, {len(samples[name])} calls; plan: {plan_summary(plans[name])}")
    ctx.log("plan of the what-if (phone branch as = ANY(ARRAY(...))):")
    for line in plans["any-array"]:
        ctx.console.print(f"      {line}", highlight=False, markup=False, style="dim")


async def bench_timeline(ctx: BenchContext, conn: asyncpg.Connection, tenant, n_contacts: int,
                         rnd: random.Random) -> None:
    from app.lib.db import tenant_context
    from app.timeline import services as timeline

    n_int = ctx.env_int("BENCH_TIMELINE_INTERACTIONS", 10_000)
    n_bg = ctx.env_int("BENCH_TIMELINE_BACKGROUND", 100_000)
    n_pages = ctx.env_int("BENCH_TIMELINE_PAGES", 200)
    schema = tenant.schema
    ctx.section(f"timeline: a contact with {n_int:,} interactions (+{n_bg:,} on other contacts), "
                "timeline.page() in tenant_context, limit 50")
    now = dt.datetime.now(dt.UTC)
    target = 1

    def rows(contact_of: Callable[[], int], count: int) -> list[tuple]:
        out = []
        for _ in range(count):
            ch = rnd.choice(CHANNELS)
            direction = "internal" if ch in ("note", "task", "order") else rnd.choice(("in", "out"))
            # whole seconds, so equal occurred_at values happen and the id tie-break is exercised
            when = now - dt.timedelta(seconds=rnd.randint(0, 2 * 365 * 86_400))
            out.append((contact_of(), ch, direction, when, "user" if direction == "out" else "customer",
                        rnd.choice(SUMMARIES[ch]), when))
        return out

    cols = ("contact", "channel", "direction", "occurred_at", "actor_type", "summary", "created_at")
    t0 = time.perf_counter()
    data = rows(lambda: target, n_int) + rows(lambda: rnd.randint(2, n_contacts), n_bg)
    await conn.copy_records_to_table("interaction", records=data, columns=cols, schema_name=schema)
    await conn.execute(f'VACUUM ANALYZE "{schema}".interaction')
    ctx.log(f"{len(data):,} interactions loaded + VACUUM ANALYZE in {time.perf_counter() - t0:.1f} s")

    async def get(before: str | None, channel: str | None = None) -> tuple[list, str | None]:
        async with tenant_context(tenant):
            return await timeline.page(target, before=before, channel=channel, limit=50)

    # Walk the whole timeline once (this also collects every cursor), checking order and completeness.
    cursors: list[str] = []
    seen = 0
    prev = None
    walk_ms: list[float] = []
    cursor = None
    while True:
        t = time.perf_counter()
        items, cursor = await get(cursor)
        walk_ms.append((time.perf_counter() - t) * 1000)
        for it in items:
            key = (it["occurred_at"], it["id"])
            if prev is not None and key >= prev:
                raise RuntimeError(f"timeline out of order at {key} after {prev}")
            prev = key
        seen += len(items)
        if cursor is None:
            break
        cursors.append(cursor)
    if seen != n_int:
        raise RuntimeError(f"walked {seen} interactions, expected {n_int}")
    w = percentiles(walk_ms, (50, 95))
    ctx.record("timeline: full walk via `before`", sum(walk_ms) / 1000, "s",
               f"{len(walk_ms)} pages of 50, {seen:,} items, strictly newest first; page p50 {w[50]:.2f} / "
               f"p95 {w[95]:.2f} ms")

    async def first() -> None:
        await get(None)

    ms = await timed_series(first, n_pages, 10, 30)
    p = percentiles(ms, (50, 95, 99))
    ctx.record("timeline: first page p50 / p95", f"{p[50]:.2f} / {p[95]:.2f}", "ms", f"{len(ms)} calls, p99 {p[99]:.2f}")

    deep = cursors[len(cursors) // 2:]

    async def deep_page() -> None:
        await get(rnd.choice(deep))

    ms = await timed_series(deep_page, n_pages, 10, 30)
    p = percentiles(ms, (50, 95, 99))
    ctx.record("timeline: deep page p50 / p95", f"{p[50]:.2f} / {p[95]:.2f}", "ms",
               f"{len(ms)} calls, random `before` cursor past item {len(cursors) // 2 * 50:,}; p99 {p[99]:.2f}")

    async def last_pages() -> None:
        await get(rnd.choice(cursors[-5:]))

    ms = await timed_series(last_pages, n_pages, 10, 30)
    p = percentiles(ms, (50, 95))
    ctx.record("timeline: last pages p50 / p95", f"{p[50]:.2f} / {p[95]:.2f}", "ms",
               f"{len(ms)} calls, cursor in the last 5 pages (near item {n_int:,}, the oldest)")

    async def channel_deep() -> None:
        await get(rnd.choice(deep), "call")

    ms = await timed_series(channel_deep, n_pages, 10, 30)
    p = percentiles(ms, (50, 95))
    ctx.record("timeline: channel=call, deep page p50 / p95", f"{p[50]:.2f} / {p[95]:.2f}", "ms", f"{len(ms)} calls")

    # The plan of the deepest page as Piccolo writes it, and (what-if, not the app's SQL) with a row comparison.
    from app.lib.db import current_uow
    from app.timeline.tables import Interaction

    def piccolo_sql(cursor: str) -> str:
        when, ident = timeline._parse_cursor(cursor)
        return str(Interaction.select(*timeline.COLUMNS).where(Interaction.contact == target).where(
            (Interaction.occurred_at < when) | ((Interaction.occurred_at == when) & (Interaction.id < ident))).order_by(
            Interaction.occurred_at, ascending=False).order_by(Interaction.id, ascending=False).limit(51))

    when, ident = timeline._parse_cursor(cursors[-1])
    row_sql = ("SELECT id, contact, channel, direction, occurred_at, actor_type, actor_id, actor_label, summary, "
               "payload, links FROM interaction WHERE contact = $1 AND (occurred_at, id) < ($2, $3) "
               "ORDER BY occurred_at DESC, id DESC LIMIT 51")
    async with tenant_context(tenant):
        conn2 = current_uow().connection
        mid = [r[0] for r in await conn2.fetch(
            f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {piccolo_sql(cursors[len(cursors) // 2])}")]
        lines = [r[0] for r in await conn2.fetch(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {piccolo_sql(cursors[-1])}")]
        alt = [r[0] for r in await conn2.fetch(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {row_sql}", target, when, ident)]
    ctx.log("plan of a middle timeline page (EXPLAIN ANALYZE of the SQL Piccolo sends):")
    for line in mid:
        ctx.console.print(f"      {line}", highlight=False, markup=False, style="dim")
    ctx.record("timeline: plan of a middle page", plan_summary(mid),
               note=next((ln.strip() for ln in mid if "Removed by Filter" in ln), ""))
    ctx.log("plan of the last timeline page (EXPLAIN ANALYZE of the SQL Piccolo sends):")
    for line in lines:
        ctx.console.print(f"      {line}", highlight=False, markup=False, style="dim")
    ctx.record("timeline: plan of the last page", plan_summary(lines),
               note=next((ln.strip() for ln in lines if "Removed by Filter" in ln), ""))
    ctx.log("what-if: the same page with a row comparison (occurred_at, id) < ($2, $3):")
    for line in alt:
        ctx.console.print(f"      {line}", highlight=False, markup=False, style="dim")
    ctx.record("timeline: what-if row comparison, last page", plan_summary(alt),
               note=next((ln.strip() for ln in alt if "Index Cond" in ln), ""))


async def substring_what_if(ctx: BenchContext, tenant, sample: Sample, label: str, rnd: random.Random) -> None:
    """Not the app's SQL: the same id query for 100 name/company substrings, as built (the planner may walk
    contact_live_updated and filter) and with the ORDER BY written so no index can supply it (`updated_at + 0s`),
    which leaves the trigram bitmap + top-N sort. Shows whether that would tame the tail."""
    from app.contacts import queries
    from app.lib.db import current_uow, tenant_context

    kinds = query_kinds(sample, rnd)
    qs = [kinds["name substring (4-7 chars)"]()[0] for _ in range(60)] + [kinds["company word"]()[0] for _ in range(40)]
    ctx.section(f"what-if at {label}: substring id query with ORDER BY not served by contact_live_updated (not in the app)")
    order = queries.SORTS["updated"]
    fenced = "(c.updated_at + interval '0 s') DESC, c.id DESC"
    results: dict[str, list[float]] = {"as built": [], "order fence": []}
    walks = 0
    async with tenant_context(tenant):
        conn = current_uow().connection
        for q in qs:
            sql, args = queries.build(queries.ContactFilter(q=q), limit=51, offset=0)
            plan = " ".join(r[0] for r in await conn.fetch(f"EXPLAIN {sql}", *args))
            walks += "contact_live_updated" in plan
            for tag, text in (("as built", sql), ("order fence", sql.replace(order, fenced))):
                t0 = time.perf_counter()
                await conn.fetch(text, *args)
                results[tag].append((time.perf_counter() - t0) * 1000)
    for tag, ms in results.items():
        p = percentiles(ms, (50, 95, 99))
        ctx.record(f"{label}: what-if substring id query, {tag}: p50 / p95 / p99",
                   f"{p[50]:.1f} / {p[95]:.1f} / {p[99]:.1f}", "ms",
                   f"{len(qs)} name/company substrings, id query only (max {max(ms):.0f} ms)"
                   + (f"; {walks} of them planned as a contact_live_updated walk" if tag == "as built" else ""))


# --------------------------------------------------------------------------------------------------------------


async def main(ctx: BenchContext) -> None:
    from tenants import services as tenant_services

    small = ctx.env_int("BENCH_CONTACTS_SMALL", 100_000)
    large = ctx.env_int("BENCH_CONTACTS_LARGE", 1_000_000)
    chunk = ctx.env_int("BENCH_CONTACTS_CHUNK", 100_000)
    rnd = random.Random(SEED)

    ctx.section("tenant via tenants.services.signup, then bulk load with COPY")
    result = await tenant_services.signup("Bench contacts", "bench_contacts", "owner@bench-contacts.example",
                                          "bench-password-" + secrets.token_hex(6), owner_name="Owner")
    tenant = result.tenant
    ctx.log(f"tenant {tenant.slug} in schema {tenant.schema}")

    gen = Generator(SEED)
    import phonenumbers

    for probe in [gen.us_phone(k) for k in range(0, 4000, 7)] + [gen.ru_phone(k) for k in range(0, 2000, 7)]:
        if not phonenumbers.is_valid_number(phonenumbers.parse(probe)):
            raise RuntimeError(f"generator makes invalid numbers, e.g. {probe}")

    conn = await asyncpg.connect(ctx.dsn)
    try:
        await conn.execute("SET maintenance_work_mem = '256MB'")
        indexes = await conn.fetch("SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = $1 "
                                   "AND tablename IN ('contact', 'contact_phone', 'contact_email') ORDER BY 1, 2",
                                   tenant.schema)
        ctx.log("indexes: " + ", ".join(f"{r['indexname']}" for r in indexes))
        if not any("gin_trgm_ops" in r["indexdef"] for r in indexes):
            ctx.log("[red]no trigram index in the tenant schema (pg_trgm missing?): partial search will scan[/red]")

        loaded, measured_label = 0, ""
        for target, label in ((small, f"{small // 1000}k" if small < 1_000_000 else f"{small / 1e6:g}M"),
                              (large, f"{large / 1e6:g}M" if large >= 1_000_000 else f"{large // 1000}k")):
            if target <= loaded:
                continue
            count = target - loaded
            ctx.section(f"load {count:,} contacts (ids {loaded + 1:,}..{target:,}) with the indexes in place")
            seconds, rows, gen_s, copy_s = await load_contacts(ctx, conn, tenant.schema, gen, loaded + 1, count, chunk)
            t0 = time.perf_counter()
            await conn.execute(f'VACUUM ANALYZE "{tenant.schema}".contact, "{tenant.schema}".contact_phone, '
                               f'"{tenant.schema}".contact_email')
            vac = time.perf_counter() - t0
            loaded = target
            ctx.record(f"load to {label}: contacts/s", count / copy_s, "rows/s",
                       f"COPY of {count:,} contacts + phones + emails = {rows:,} rows in {copy_s:.1f} s "
                       f"({rows / copy_s:,.0f} rows/s all tables, indexes maintained); Python generation "
                       f"{gen_s:.1f} s extra; VACUUM ANALYZE {vac:.1f} s")
            sizes = await conn.fetchrow(
                "SELECT pg_size_pretty(pg_total_relation_size($1::regclass)) AS total, "
                "pg_size_pretty(pg_relation_size($2::regclass)) AS trgm",
                f'"{tenant.schema}".contact', f'"{tenant.schema}".contact_search_trgm')
            ctx.log(f"contact table with indexes: {sizes['total']}; contact_search_trgm: {sizes['trgm']}")
            await verify_data(ctx, conn, tenant.schema)
            sample = await draw_sample(conn, tenant.schema, 5000, rnd, loaded)
            await bench_search(ctx, tenant, sample, label, rnd)
            measured_label = label

        await bench_timeline(ctx, conn, tenant, loaded, rnd)
        if ctx.env_int("BENCH_CONTACTS_WHATIF", 0):
            await substring_what_if(ctx, tenant, sample, measured_label, rnd)
    finally:
        await conn.close()

