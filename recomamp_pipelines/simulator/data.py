"""Deterministic advertising data, generated inside DuckDB one UTC day at a time.

A day's rows are a pure function of (seed, day): asking for the same window next month gives
the same answer. Volumes vary by week (about one week in thirteen is a quiet one), by season
and by weekday. A day is generated on first use, in a fraction of a second, and kept in an LRU
cache bounded by `cache_max_rows`; when a window needs more rows than the cache holds (a query
over many months, or a large `data_scale`), the days it lacks are streamed from the generators
instead of being cached.

Three advertisers (one of them selling books, with ten-digit ISBN ASINs such as 0345391802),
12 DSP campaigns (36 line items, 72 creatives), 24 sponsored ads campaigns across products,
brands, display and television, 15 ASINs and 1,000,000 users (times `data_scale`). A default week
holds about 1.1 million DSP impressions, 1.1 million sponsored ads impressions, 7,500 DSP clicks,
33,000 sponsored ads clicks and 23,000 attributed conversions.
"""

from __future__ import annotations

import random
import threading
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb

from recomamp_pipelines.amc_sql.catalogue import TABLES
from recomamp_pipelines.simulator.sources import base_view_name, source_spec, view_sql

SQL_DIR = Path(__file__).parent / "sql"
EPOCH = date(1970, 1, 1)

DSP_CLICK_BLOCK = 140
SA_CLICK_BLOCK = 32
BASE_DSP_IMPRESSIONS = 150_000
BASE_SA_IMPRESSIONS = 150_000
BASE_ORGANIC_CONVERSIONS = 3_000
BASE_USERS = 1_000_000
VIEW_THROUGH_RATE = 0.010
DSP_CLICK_CONVERSION_RATE = 0.25
SA_CLICK_CONVERSION_RATE = 0.30
WEEKDAY_FACTORS = (0.95, 0.96, 0.98, 1.0, 1.05, 1.10, 1.06)
#: Conversions land up to 14 days (and a click delay) after their traffic.
ATTRIBUTION_LOOKBACK = timedelta(days=16)
#: Clicks and sponsored ads click rows land minutes after the impression they come from.
CLICK_LOOKBACK = timedelta(days=1)


@cache
def load_sql(name: str) -> str:
    """The text of `sql/<name>.sql`."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def sql_statements(text: str) -> list[str]:
    """Statements of a SQL file, split at `;` ending a line (the files keep `;` out of comments)."""
    return [s.strip() for s in text.split(";\n") if s.strip() and not _only_comments(s)]


def _only_comments(statement: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in statement.split("\n"))


def day_number(day: date) -> int:
    return (day - EPOCH).days


def week_factor(seed: int, day: date) -> float:
    """The volume multiplier of the Monday-started week holding `day`: quiet weeks included."""
    monday = day - timedelta(days=day.weekday())
    draw = random.Random(f"{seed}:{monday.isoformat()}")
    quiet = draw.random() < 1 / 13
    factor = 0.6 if quiet else 0.8 + 0.45 * draw.random()
    season = {11: 1.2, 12: 1.3, 1: 0.9}.get(monday.month, 1.0)
    return factor * season


@dataclass(frozen=True)
class DayVolume:
    """Row counts of one UTC day."""

    dsp: int
    sa: int
    organic: int
    view_throughs: int
    dsp_click_conversions: int
    sa_click_conversions: int

    @property
    def attributed(self) -> int:
        return self.view_throughs + self.dsp_click_conversions + self.sa_click_conversions


def day_volume(seed: int, scale: float, day: date) -> DayVolume:
    factor = scale * week_factor(seed, day) * WEEKDAY_FACTORS[day.weekday()]
    dsp = round(BASE_DSP_IMPRESSIONS * factor)
    sa = round(BASE_SA_IMPRESSIONS * factor)
    return DayVolume(
        dsp=dsp,
        sa=sa,
        organic=round(BASE_ORGANIC_CONVERSIONS * factor),
        view_throughs=round(dsp * VIEW_THROUGH_RATE),
        dsp_click_conversions=round(dsp // DSP_CLICK_BLOCK * DSP_CLICK_CONVERSION_RATE),
        sa_click_conversions=round(sa // SA_CLICK_BLOCK * SA_CLICK_CONVERSION_RATE),
    )


# Dimension lists: everything a generated row points at by index.
ADVERTISERS = (
    (0, 4100001, "Recomamp Books", "Books"),
    (1, 4100002, "Northwind Outdoor", "Outdoor"),
    (2, 4100003, "Bluebird Kitchen", "Kitchen"),
)
DSP_CAMPAIGNS = ("Prospecting", "Retargeting", "Streaming TV", "Brand Awareness")
LINE_ITEMS = ("Desktop Display", "Mobile Display", "Online Video")
SA_CAMPAIGNS = (
    ("sponsored_products", "SP | Auto"),
    ("sponsored_products", "SP | Exact Keywords"),
    ("sponsored_products", "SP | Category Targeting"),
    ("sponsored_brands", "SB | Brand Video"),
    ("sponsored_brands", "SB | Store Spotlight"),
    ("sponsored_display", "SD | Views Remarketing"),
    ("sponsored_display", "SD | In-market Audiences"),
    ("sponsored_television", "STV | Awareness"),
)
KEYWORDS = {
    0: (
        "science fiction books",
        "dune paperback",
        "hitchhikers guide",
        "fantasy novels",
        "classic novels",
        "book box set",
    ),
    1: (
        "hiking backpack",
        "camping tent",
        "trail running shoes",
        "water bottle",
        "headlamp",
        "sleeping bag",
    ),
    2: (
        "chef knife",
        "cast iron skillet",
        "coffee grinder",
        "kitchen scale",
        "mixing bowls",
        "cutting board",
    ),
}
TERM_SUFFIXES = ("", " best seller", " gift", " sale", " for beginners")
PLACEMENTS = {
    "sponsored_products": ("Top of Search on-Amazon", "Detail Page on-Amazon", "Other on-Amazon"),
    "sponsored_brands": ("Top of Search on-Amazon", "Other on-Amazon", "Detail Page on-Amazon"),
    "sponsored_display": ("Detail Page on-Amazon", "Off-Amazon", "Other on-Amazon"),
    "sponsored_television": ("Streaming TV", "Streaming TV", "Streaming TV"),
}
ASINS = (
    (0, "0345391802", 9.99),
    (0, "0441172717", 10.99),
    (0, "0553293354", 8.99),
    (0, "0547928227", 12.99),
    (0, "0061120081", 14.99),
    (1, "B07PXGQC1Q", 129.99),
    (1, "B08D6ZT4B6", 49.99),
    (1, "B09JQMJHXY", 89.99),
    (1, "B07Q5QX9WL", 34.99),
    (1, "B0B2Q9ZJ1T", 19.99),
    (2, "B00FLYWNYQ", 99.95),
    (2, "B07Z8T47L1", 39.99),
    (2, "B01N5IB20Q", 24.99),
    (2, "B0C1XKS7QT", 59.99),
    (2, "B08GC6PL3D", 17.99),
)
LABELS: dict[str, tuple[str, ...]] = {
    "device": ("Phone", "PC", "TV", "Tablet"),
    "supply": ("Amazon O&O", "Amazon Publisher Services", "Third-party exchange"),
    "site": (
        "amazon.com",
        "imdb.com",
        "twitch.tv",
        "Fire TV",
        "Prime Video",
        "weather.com",
        "goodreads.com",
        "nytimes.com",
        "espn.com",
        "allrecipes.com",
        "msn.com",
        "cnn.com",
    ),
}
CATEGORIES = (
    (0, "purchase", "order"),
    (1, "website", "detailPageView"),
    (2, "website", "shoppingCart"),
)


def _targets(advertiser_idx: int, position: int) -> list[tuple[str | None, str | None]]:
    keywords = KEYWORDS[advertiser_idx]
    product, _ = SA_CAMPAIGNS[position]
    if position == 0:
        auto = ("close-match", "loose-match", "substitutes", "complements")
        return [(auto[i % 4], "TARGETING_EXPRESSION_PREDEFINED") for i in range(6)]
    if position == 1:
        return [(k, "EXACT") for k in keywords]
    if position == 2:
        return [(f'category="{k.title()}"', "TARGETING_EXPRESSION") for k in keywords]
    if product == "sponsored_brands":
        return [(k, "PHRASE" if position == 3 else "BROAD") for k in keywords]
    if product == "sponsored_display":
        names = (
            "views=(exact-product lookback=30)",
            "purchases=(related-product lookback=60)",
            'audience="In-market"',
            'audience="Lifestyle"',
            "similar-product",
            "views=(similar-product lookback=14)",
        )
        return [(n, "TARGETING_EXPRESSION") for n in names]
    return [(None, None)] * 6


def _fill_dimensions(con: duckdb.DuckDBPyConnection) -> None:
    for statement in sql_statements(load_sql("dimensions")):
        con.execute(statement)
    con.executemany("insert into sim.advertisers values (?, ?, ?)", [a[:3] for a in ADVERTISERS])
    campaigns: list[tuple[int, int, str | None, int, str]] = []
    creatives: list[tuple[int, int, int, str, int, str]] = []
    ad_groups: list[tuple[int, int, int, str]] = []
    targets: list[tuple[int, int, str | None, str | None]] = []
    terms: list[tuple[int, int, str]] = []
    for adv, _, _, short in ADVERTISERS:
        for pos, name in enumerate(DSP_CAMPAIGNS):
            key = adv * len(DSP_CAMPAIGNS) + pos
            campaign = f"{short} | DSP | {name}"
            campaigns.append((key, adv, None, 591_000_000_000 + key * 1013, campaign))
            for li, li_name in enumerate(LINE_ITEMS):
                line_item_id = 592_000_000_000 + (key * 3 + li) * 7
                for cr in range(2):
                    idx = key * 6 + li * 2 + cr
                    creatives.append(
                        (
                            idx,
                            key,
                            line_item_id,
                            f"{campaign} | {li_name}",
                            593_000_000_000 + idx * 11,
                            f"{short} {li_name} {'AB'[cr]}",
                        )
                    )
        for pos, (product, name) in enumerate(SA_CAMPAIGNS):
            sa_idx = adv * len(SA_CAMPAIGNS) + pos
            campaign = f"{short} | {name}"
            campaigns.append((100 + sa_idx, adv, product, 381_000_000_000 + sa_idx * 977, campaign))
            for grp in range(2):
                ad_groups.append(
                    (
                        sa_idx,
                        grp,
                        382_000_000_000 + sa_idx * 2 + grp,
                        f"{campaign} | Ad group {grp + 1}",
                    )
                )
            for t, (targeting, match_type) in enumerate(_targets(adv, pos)):
                targets.append((sa_idx, t, targeting, match_type))
        term_list = [k + s for s in TERM_SUFFIXES for k in KEYWORDS[adv]]
        terms.extend((adv, t, term) for t, term in enumerate(term_list[:30]))
    con.executemany("insert into sim.campaigns values (?, ?, ?, ?, ?)", campaigns)
    con.executemany("insert into sim.creatives values (?, ?, ?, ?, ?, ?)", creatives)
    con.executemany("insert into sim.ad_groups values (?, ?, ?, ?)", ad_groups)
    con.executemany("insert into sim.targets values (?, ?, ?, ?)", targets)
    con.executemany("insert into sim.search_terms values (?, ?, ?)", terms)
    con.executemany(
        "insert into sim.placements values (?, ?, ?)",
        [(p, i, name) for p, names in PLACEMENTS.items() for i, name in enumerate(names)],
    )
    con.executemany(
        "insert into sim.asins values (?, ?, ?, ?)",
        [(i, adv, asin, price) for i, (adv, asin, price) in enumerate(ASINS)],
    )
    con.executemany(
        "insert into sim.labels values (?, ?, ?)",
        [(kind, i, label) for kind, labels in LABELS.items() for i, label in enumerate(labels)],
    )
    con.executemany("insert into sim.categories values (?, ?, ?)", CATEGORIES)


def sql_timestamp(moment: datetime) -> str:
    """A DuckDB literal for an instant, as a naive UTC timestamp (built from a datetime only)."""
    naive = moment.astimezone(UTC).replace(tzinfo=None)
    return f"timestamp '{naive.isoformat(sep=' ', timespec='microseconds')}'"


def fixed_offset_seconds(zone: ZoneInfo, start: datetime, end: datetime) -> int | None:
    """The zone's UTC offset when it is the same from `start` to `end`, else None."""
    offsets = set()
    moment = start
    while moment <= end:
        offset = moment.astimezone(zone).utcoffset()
        offsets.add(int(offset.total_seconds()) if offset is not None else 0)
        moment += timedelta(hours=12)
    offset = end.astimezone(zone).utcoffset()
    offsets.add(int(offset.total_seconds()) if offset is not None else 0)
    return offsets.pop() if len(offsets) == 1 else None


class _LocalTime:
    """Formats `{local:column}` as that UTC timestamp's wall-clock time in the window's zone."""

    def __init__(self, zone_name: str, offset_seconds: int | None) -> None:
        self._zone = zone_name
        self._offset = offset_seconds

    def __format__(self, column: str) -> str:
        if self._offset is not None:
            return f"({column} + to_seconds({self._offset}))"
        # zone_name was checked against the IANA database before it got here.
        return f"timezone('{self._zone}', cast({column} as timestamptz))"


@dataclass(frozen=True)
class DataWindow:
    """What one execution may read: instants [start, end) in `time_zone`, before `clock`."""

    start: datetime
    end: datetime
    time_zone: str
    clock: datetime
    history_start: datetime

    @property
    def lo(self) -> datetime:
        return max(self.start, self.history_start)

    @property
    def hi(self) -> datetime:
        return max(self.lo, min(self.end, self.clock))


_KINDS_BY_TABLE: dict[str, tuple[tuple[str, timedelta], ...]] = {
    "dsp_impressions": (("dsp", timedelta(0)),),
    "dsp_clicks": (("dsp", CLICK_LOOKBACK),),
    "sponsored_ads_traffic": (("sa", CLICK_LOOKBACK),),
    "amazon_attributed_events_by_conversion_time": (("attributed", ATTRIBUTION_LOOKBACK),),
    "amazon_attributed_events_by_traffic_time": (("attributed", CLICK_LOOKBACK),),
    "conversions": (("organic", timedelta(0)), ("attributed", ATTRIBUTION_LOOKBACK)),
}


class Warehouse:
    """The DuckDB database holding dimensions, generator macros and the day cache."""

    def __init__(
        self,
        seed: int,
        scale: float,
        threads: int,
        cache_max_rows: int,
        temp_directory: Path,
        memory_limit: str = "2GB",
    ) -> None:
        self.seed = seed
        self.scale = scale
        self.users = max(1000, round(BASE_USERS * scale))
        self.cache_max_rows = cache_max_rows
        self.threads = threads
        self._con = duckdb.connect(
            config={
                "threads": threads,
                "temp_directory": str(temp_directory),
                "memory_limit": memory_limit,
            }
        )
        _fill_dimensions(self._con)
        for statement in sql_statements(load_sql("generators")):
            self._con.execute(statement)
        self._views = _split_views(load_sql("views"))
        self._lock = threading.Lock()
        self._cached: OrderedDict[tuple[str, date], int] = OrderedDict()
        self._pins: dict[tuple[str, date], int] = {}
        self._generating: dict[tuple[str, date], threading.Event] = {}
        self._view_sql: dict[str, str] = {}

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A new connection to the warehouse, in UTC."""
        cur = self._con.cursor()
        cur.execute("set TimeZone = 'UTC'")
        return cur

    def close(self) -> None:
        self._con.close()

    def cached_days(self) -> list[tuple[str, str, int]]:
        with self._lock:
            return [(kind, day.isoformat(), rows) for (kind, day), rows in self._cached.items()]

    def _rows(self, kind: str, day: date) -> int:
        volume = day_volume(self.seed, self.scale, day)
        return {
            "dsp": volume.dsp,
            "sa": volume.sa,
            "organic": volume.organic,
            "attributed": volume.attributed,
        }[kind]

    def _generator_call(self, kind: str, day: date) -> tuple[str, list[object]]:
        """The generator macro call of one kind and day, with its arguments."""
        v = day_volume(self.seed, self.scale, day)
        head: list[object] = [day, day_number(day), self.seed, self.users]
        if kind == "dsp":
            return "sim_dsp_rows", [*head, v.dsp, DSP_CLICK_BLOCK, 0, 0]
        if kind == "sa":
            return "sim_sa_rows", [*head, v.sa, SA_CLICK_BLOCK, 0, 0]
        if kind == "organic":
            return "sim_organic_rows", [*head, v.organic]
        return "sim_attributed_rows", [
            *head,
            v.dsp,
            DSP_CLICK_BLOCK,
            v.sa,
            SA_CLICK_BLOCK,
            v.view_throughs,
            v.dsp_click_conversions,
            v.sa_click_conversions,
        ]

    def _streamed_source(self, kind: str, day: date) -> str:
        """SQL reading a day straight from its generator (all arguments are our own numbers)."""
        macro, args = self._generator_call(kind, day)
        rendered = [f"date '{a.isoformat()}'" if isinstance(a, date) else str(a) for a in args]
        return f"select * from {macro}({', '.join(rendered)})"

    @staticmethod
    def _table_name(kind: str, day: date) -> str:
        return f'cache."{kind}_{day:%Y%m%d}"'

    def _generate(self, kind: str, day: date) -> None:
        macro, args = self._generator_call(kind, day)
        placeholders = ", ".join("?" for _ in args)
        cur = self.cursor()
        try:
            cur.execute(
                f"create or replace table {self._table_name(kind, day)} as "
                f"select * from {macro}({placeholders})",
                args,
            )
        finally:
            cur.close()

    def _ensure(self, needed: list[tuple[str, date]]) -> dict[tuple[str, date], str]:
        """Pin the needed days and name their source: a cached table or a generator call."""
        sources: dict[tuple[str, date], str] = {}
        to_make: list[tuple[str, date]] = []
        waits: list[threading.Event] = []
        with self._lock:
            missing_rows = sum(self._rows(*key) for key in needed if key not in self._cached)
            cache_room = missing_rows <= self.cache_max_rows
            for key in needed:
                self._pins[key] = self._pins.get(key, 0) + 1
                if key in self._cached:
                    self._cached.move_to_end(key)
                elif key in self._generating:
                    waits.append(self._generating[key])
                elif cache_room:
                    self._generating[key] = threading.Event()
                    to_make.append(key)
        try:
            # range() generates on one thread: days are generated side by side instead.
            with ThreadPoolExecutor(max_workers=self.threads) as pool:
                for key, _ in zip(
                    to_make, pool.map(lambda k: self._generate(*k), to_make), strict=True
                ):
                    with self._lock:
                        self._cached[key] = self._rows(*key)
                        self._generating.pop(key).set()
        except BaseException:
            with self._lock:
                for key in to_make:
                    event = self._generating.pop(key, None)
                    if event is not None:
                        event.set()
            self._release(needed)
            raise
        for event in waits:
            event.wait()
        with self._lock:
            for key in needed:
                sources[key] = (
                    f"select * from {self._table_name(*key)}"
                    if key in self._cached
                    else self._streamed_source(*key)
                )
            self._evict()
        return sources

    def _evict(self) -> None:
        total = sum(self._cached.values())
        for key in list(self._cached):
            if total <= self.cache_max_rows:
                break
            if self._pins.get(key, 0) > 0:
                continue
            total -= self._cached.pop(key)
            self._con.execute(f"drop table if exists {self._table_name(*key)}")

    def _release(self, needed: list[tuple[str, date]]) -> None:
        with self._lock:
            for key in needed:
                self._pins[key] -= 1
                if self._pins[key] <= 0:
                    del self._pins[key]
            self._evict()

    def _needed(self, windows: dict[str, DataWindow]) -> dict[str, list[date]]:
        """The generated days each kind of row needs for the base views' windows."""
        days: dict[str, set[date]] = {}
        for table, window in windows.items():
            first_day = window.history_start.date()
            for kind, lookback in _KINDS_BY_TABLE[table]:
                start = max(window.lo - lookback, window.history_start).date()
                last = (window.hi - timedelta(microseconds=1)).date()
                if window.hi <= window.lo:
                    continue
                span = (last - start).days + 1
                days.setdefault(kind, set()).update(
                    start + timedelta(days=n)
                    for n in range(span)
                    if start + timedelta(days=n) >= first_day
                )
        return {kind: sorted(found) for kind, found in days.items()}

    @staticmethod
    def base_windows(
        window: DataWindow, tables: set[str], extensions: dict[str, tuple[int, int]] | None = None
    ) -> dict[str, DataWindow]:
        """The window of each base view the tables read (EXTEND_TIME_WINDOW widens one)."""
        windows: dict[str, DataWindow] = {}
        for table in tables:
            base = source_spec(table).base
            before, after = (extensions or {}).get(table, (0, 0))
            wider = replace(
                window,
                start=window.start - timedelta(seconds=before),
                end=window.end + timedelta(seconds=after),
            )
            known = windows.get(base)
            if known is not None:
                wider = replace(
                    known, start=min(known.start, wider.start), end=max(known.end, wider.end)
                )
            windows[base] = wider
        return windows

    @contextmanager
    def session(
        self,
        window: DataWindow,
        tables: set[str],
        extensions: dict[str, tuple[int, int]] | None = None,
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor whose temp views show `tables` as the window sees them.

        `extensions` widens a table's window by (seconds before, seconds after), as AMC's
        `EXTEND_TIME_WINDOW` does; the base view it reads is widened for every table on it.
        """
        windows = self.base_windows(window, tables, extensions)
        needed_days = self._needed(windows)
        needed = [(kind, day) for kind, days in needed_days.items() for day in days]
        sources = self._ensure(needed)
        cur = self.cursor()
        try:
            self._create_views(cur, windows, needed_days, sources)
            for table in sorted(tables):
                cur.execute(self._table_view(cur, table))
            yield cur
        finally:
            cur.close()
            self._release(needed)

    def _table_view(self, cur: duckdb.DuckDBPyConnection, table: str) -> str:
        with self._lock:
            known = self._view_sql.get(table)
        if known is not None:
            return known
        base = source_spec(table).base
        described = cur.execute(f'describe "{base_view_name(base)}"').fetchall()
        made = view_sql(TABLES[table], {str(row[0]): str(row[1]) for row in described})
        with self._lock:
            self._view_sql[table] = made
        return made

    def _union(self, kind: str, days: list[date], sources: dict[tuple[str, date], str]) -> str:
        parts = [sources[(kind, day)] for day in days]
        if not parts:
            # An empty relation of the right shape: the generator asked for zero rows.
            macro, args = self._generator_call(kind, EPOCH)
            if kind == "organic":
                args[-1] = 0
            else:
                args[4] = 0
                if kind == "attributed":
                    args[6] = args[8] = args[9] = args[10] = 0
            rendered = [f"date '{a.isoformat()}'" if isinstance(a, date) else str(a) for a in args]
            return f"select * from {macro}({', '.join(rendered)})"
        return "\nunion all\n".join(parts)

    def _create_views(
        self,
        cur: duckdb.DuckDBPyConnection,
        windows: dict[str, DataWindow],
        days: dict[str, list[date]],
        sources: dict[tuple[str, date], str],
    ) -> None:
        for table, window in sorted(windows.items()):
            zone = ZoneInfo(window.time_zone)
            offset = fixed_offset_seconds(
                zone, window.lo - ATTRIBUTION_LOOKBACK, window.hi + timedelta(days=1)
            )
            common = {
                "lo": sql_timestamp(window.lo),
                "hi": sql_timestamp(window.hi),
                "clock": sql_timestamp(window.clock),
                "history": sql_timestamp(window.history_start),
                "local": _LocalTime(window.time_zone, offset),
            }
            if table in ("dsp_impressions", "dsp_clicks"):
                sql = self._views[table].format(
                    source=self._union("dsp", days.get("dsp", []), sources), **common
                )
            elif table == "sponsored_ads_traffic":
                sql = self._views[table].format(
                    source=self._union("sa", days.get("sa", []), sources), **common
                )
            elif table == "conversions":
                sql = self._views[table].format(
                    organic_source=self._union("organic", days.get("organic", []), sources),
                    attributed_source=self._union(
                        "attributed", days.get("attributed", []), sources
                    ),
                    **common,
                )
            else:
                by_conversion = table.endswith("conversion_time")
                sql = self._views["attributed"].format(
                    name=table,
                    window_column="conversion_ts" if by_conversion else "traffic_ts",
                    source=self._union("attributed", days.get("attributed", []), sources),
                    **common,
                )
            cur.execute(sql)


def _split_views(text: str) -> dict[str, str]:
    views: dict[str, str] = {}
    for chunk in text.split("-- view: ")[1:]:
        name, _, body = chunk.partition("\n")
        views[name.strip()] = body.strip()
    return views
