"""The situation report: the operation at a glance, for a briefing or a
shift change, as this console holds it; a task's assignment list (an
ICS 204), to hand to the units on it; and a unit's activity log (an ICS
214), what the journal says it did in an operational period.

Units by agency and status (the resource summary of an ICS 209), the
units past their status timers, the tasks still to do, most urgent and
overdue first, the stock, the free notes of the period (the last 12 hours
by default, an operational period) and how current this console's picture
is: when each peer was last seen, what is still waiting to sync, and how
many conflicts are open. As plain text (for a terminal, an e-mail or a
radio log) or as HTML (to print).
"""

from __future__ import annotations

import dataclasses
import html
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from console import clock, model
from console.model import JournalEntry, Resource, Task, Unit
from console.store import NotFound, Store
from console.times import STATUS_TIMERS, due_in, due_timestamp, local_time, past_timer, span_text, zone_name

STATUSES = tuple(model.UNIT_STATUSES)
DEFAULT_HOURS = 12.0


@dataclass(frozen=True)
class UnitLine:
    agency: str
    counts: dict[str, int]  # status -> units
    total: int
    personnel: int


@dataclass(frozen=True)
class TaskLine:
    task: Task
    callsigns: tuple[str, ...]
    due_in: float | None  # seconds; negative: overdue


@dataclass(frozen=True)
class CheckLine:
    """A unit past its status timer, not checked in since."""

    unit: Unit
    past: float  # seconds past the timer
    checked: str | None  # its last check-in (a note about it), if any
    task: str  # the title of the task it is on, if any


@dataclass(frozen=True)
class Report:
    agency: str
    operator: str
    made_ms: int
    since_ms: int
    units: list[UnitLine]  # by agency
    unit_total: UnitLine
    tasks_by_status: dict[str, int]
    to_do: list[TaskLine]  # open, assigned, in progress: most urgent, then soonest due
    resources: list[Resource]
    journal: dict[str | None, tuple[int, int]]  # agency -> (entries, notes) in the period
    notes: list[JournalEntry]  # free notes in the period, oldest first (the newest, if limited)
    peers: list[dict]
    outbox: int
    conflicts: int
    # How many there are of what the lists above show, when they show only the first.
    to_do_total: int
    overdue_total: int
    resources_total: int
    notes_total: int
    # Units past their status timers (the longest past first), the timers, and how many there are.
    to_check: list[CheckLine] = dataclasses.field(default_factory=list)
    timers: dict[str, int] = dataclasses.field(default_factory=dict)
    to_check_total: int = 0
    unstaffed_total: int = 0  # tasks still to do that no unit is on
    # Callsigns on several units (added on consoles apart), and on how many: counted more than once.
    twins: list[tuple[str, int]] = dataclasses.field(default_factory=list)
    # Units on a deleted task (put on it at a console that had not seen it deleted or merged
    # away): (callsign, the task's title, the title of the task it was merged into, if any).
    stranded: list[tuple[str, str, str | None]] = dataclasses.field(default_factory=list)
    # Tasks still to do of one title, stock of one name, added at different consoles (perhaps
    # entered twice while apart: see Store.entered_apart): (table, the name, how many rows).
    entered_apart: list[tuple[str, str, int]] = dataclasses.field(default_factory=list)
    # Stock items at or below their low marks (none left included: model.stock_low), and with none left.
    low_total: int = 0
    out_total: int = 0


def build(store: Store, *, hours: float = DEFAULT_HOURS, now_ms: int | None = None,
          limit: int | None = None, timers: dict[str, int] | None = None) -> Report:
    """Read the report from the store, in one read transaction. `limit`:
    list at most that many tasks, resources, units to check and notes (the
    most urgent tasks, the newest notes), for a window; the counts are of
    all. `timers`: the status timers units to check are past (minutes per
    status; by default times.STATUS_TIMERS)."""
    now_ms, since_ms = _period_ms(hours, now_ms)
    since = clock.pack(since_ms)
    with store.reading():
        units = store.tally("units", ["agency", "status"], total="personnel")
        tasks_by_status = store.tally("tasks", ["status"])
        to_do, to_do_total, overdue, unstaffed = store.tasks_to_do(_iso(now_ms), limit)
        resources = store.list("resources", limit=limit)
        ((resources_total,),) = store.tally("resources", [])
        low_total, out_total = store.stock_watch()
        journal = store.journal_counts(since)
        notes = [e for _, e in store.journal_page(down_to=(since, ""), action="note", limit=limit)]
        peers = store.peers()
        outbox = store.outbox()
        conflicts = store.open_conflict_count()
        twins = [(t.callsign, len(t.units)) for t in store.twins()]
        stranded = [(x.unit.callsign, x.title, x.into_title) for x in store.stranded()]
        apart = [(table, getattr(rows[0], model.table(table).label) or "", len(rows))
                 for table, rows in store.entered_apart()]
        timers = dict(STATUS_TIMERS if timers is None else timers)
        to_check = _units_to_check(store, timers, now_ms)
    by_agency: dict[str, dict[str, int]] = {}
    people: dict[str, int] = {}
    rows: dict[str, int] = {}
    for agency, _, n, _ in units:
        rows[agency or "(no agency)"] = rows.get(agency or "(no agency)", 0) + n
    spelled = model.spellings(rows)  # one agency written two ways on consoles apart is one line
    for agency, status, n, personnel in units:
        agency = spelled[agency or "(no agency)"]
        counts = by_agency.setdefault(agency, dict.fromkeys(STATUSES, 0))
        counts[status or "available"] += n
        people[agency] = people.get(agency, 0) + int(personnel)
    lines = [UnitLine(a, c, sum(c.values()), people[a]) for a, c in sorted(by_agency.items(), key=_casefold)]
    total = UnitLine("Total", {s: sum(line.counts[s] for line in lines) for s in STATUSES},
                     sum(line.total for line in lines), sum(line.personnel for line in lines))
    now_s = now_ms / 1000
    lines_to_do = [TaskLine(t, t.assigned_units, due_in(t, now_s)) for t in to_do]
    by_status = dict.fromkeys(model.TASK_STATUSES, 0)
    for status, n in tasks_by_status:
        by_status[status or "open"] += n
    resources = sorted(resources, key=lambda r: ((r.agency or "").casefold(), (r.name or "").casefold()))
    return Report(store.agency, store.operator, now_ms, since_ms, lines, total, by_status,
                  lines_to_do, resources, journal, notes[::-1], peers, outbox, conflicts,
                  to_do_total=to_do_total, overdue_total=overdue,
                  resources_total=resources_total, notes_total=sum(k for _, k in journal.values()),
                  to_check=to_check[:limit] if limit else to_check, timers=timers, to_check_total=len(to_check),
                  unstaffed_total=unstaffed, twins=twins, stranded=stranded, entered_apart=apart,
                  low_total=low_total, out_total=out_total)


def _units_to_check(store: Store, timers: dict[str, int], now_ms: int) -> list[CheckLine]:
    """Units past their status timers, not checked in since, the longest past first."""
    candidates = store.units_in_status_since({status: _iso(now_ms - minutes * 60_000)
                                              for status, minutes in timers.items() if minutes > 0})
    checked = store.last_notes("units", {u.id: u.status_since for u in candidates})
    past = [(u, over) for u in candidates
            if (over := past_timer(u, timers, now_ms / 1000, checked.get(u.id))) is not None]
    titles = {t.id: t.title for t in store.get_many("tasks", {u.task_id for u, _ in past if u.task_id})}
    lines = [CheckLine(u, over, checked.get(u.id), titles.get(u.task_id, "") if u.task_id else "")
             for u, over in past]
    return sorted(lines, key=lambda line: (-line.past, (line.unit.callsign or "").casefold()))


def _period_ms(hours: float, now_ms: int | None) -> tuple[int, int]:
    """Now, and the start of a period of `hours` hours up to now (ms)."""
    if not 0 < hours <= 24 * 366:
        raise model.ValidationError(f"{hours:g} hours: the period is from a minute to a year")
    now_ms = clock.wall_ms() if now_ms is None else now_ms
    return now_ms, now_ms - int(hours * 3600 * 1000)


def _casefold(item: tuple[str, object]) -> str:
    return item[0].casefold()


# ------------------------------------------------------------------ rendering


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(ms: int) -> str:
    """A moment in this computer's zone, named, with UTC beside it."""
    shown = f"{local_time(_iso(ms), seconds=False)} {zone_name()}"
    if datetime.fromtimestamp(ms / 1000).astimezone().utcoffset():
        shown += f" ({_iso(ms)[11:16]} UTC)"
    return shown


def _period(r: Report) -> str:
    hours = (r.made_ms - r.since_ms) / 3_600_000
    return f"the last {hours:g} hour{'s' if hours != 1 else ''}, since {_when(r.since_ms)}"


def _due(line: TaskLine) -> str:
    if line.due_in is None:
        return local_time(line.task.due, seconds=False) if line.task.due else ""
    shown = local_time(line.task.due, seconds=False)
    if line.due_in < 0:
        return f"{shown} OVERDUE {span_text(-line.due_in)}"
    return f"{shown} (in {span_text(line.due_in)})"


def _quantity(r: Resource) -> str:
    return _amount(r.quantity)


def _amount(q: float) -> str:
    """A stock amount: 1,850, or 2.5 (to the thousandth, as stock counts)."""
    return f"{int(q):,}" if q == int(q) else f"{q:,.3f}".rstrip("0")


def _low_at(r: Resource) -> str:
    return "" if r.low_at is None else _amount(r.low_at)


def _stock_watch(r: Report) -> str:
    """"; 2 low, 1 with none left": the stock to send for (or "")."""
    said = [f"{r.low_total:,} low"] if r.low_total else []
    if r.out_total:
        said.append(f"{r.out_total:,} with none left")
    return "; " + ", ".join(said) if said else ""


def _stock_html(r: Resource) -> str:
    """A stock item's quantity, in red with none left, in orange when low."""
    shown = html.escape(_quantity(r))
    if r.quantity <= 0:
        return f'<span class="overdue">{shown}</span>'
    return f'<span class="low">{shown}</span>' if model.stock_low(r) else shown


def _peer_line(p: dict, now_ms: int) -> str:
    seen = p["last_seen"]
    if not seen:
        return f"{p['agency']} ({p['role']}): never connected"
    ago = span_text(now_ms / 1000 - datetime.fromisoformat(seen.replace("Z", "+00:00")).timestamp())
    owed = f", {p['owed']:,} changes it has not received" if p["owed"] else ""
    return f"{p['agency']} ({p['role']}): last seen {local_time(seen, seconds=False)}, {ago} ago{owed}"


def _currency(r: Report) -> list[str]:
    """How current this console's picture is, in sentences."""
    twins = [f"{', '.join(f'{c} is on {n} units' for c, n in r.twins[:10])}{' …' if len(r.twins) > 10 else ''} "
             f"(added on consoles apart): counted {'twice' if len(r.twins) == 1 and r.twins[0][1] == 2 else 'so'} "
             "above until merged, or renamed if they are different units."] if r.twins else []
    twins += [f"{c} was put on {t} at a console that had not seen it {f'merged into {into}' if into else 'deleted'}: "
              "listed under no task above until put on one." for c, t, into in r.stranded[:10]]
    if len(r.stranded) > 10:
        twins.append(f"… and {len(r.stranded) - 10} more units on a deleted task.")
    if r.entered_apart:
        said = [f"{name} ({n} {'tasks' if table == 'tasks' else 'stock rows'})"
                for table, name, n in r.entered_apart[:10]]
        twins.append(f"Added at different consoles under one name: {', '.join(said)}"
                     f"{' …' if len(r.entered_apart) > 10 else ''}. Entered twice while apart? Then counted "
                     "more than once above until merged.")
    if not r.peers:
        return ["No other console is trusted: this is one console's picture only, and nothing made here has "
                "been sent anywhere.", *twins]
    out = [_peer_line(p, r.made_ms) for p in r.peers]
    out.append("All of this console's changes have reached a peer." if not r.outbox else
               f"{r.outbox:,} change{'s' if r.outbox != 1 else ''} made here {'have' if r.outbox != 1 else 'has'} "
               "not reached any peer yet.")
    out.append("No conflicts are open." if not r.conflicts else
               f"{r.conflicts:,} conflict{'s' if r.conflicts != 1 else ''} to reconcile: where two consoles wrote "
               "at once, the board shows one side until a person chooses.")
    return out + twins


def _timers_text(r: Report) -> str:
    timers = [(s, m) for s, m in r.timers.items() if m > 0]
    if not timers:
        return "no status timers set"
    return ("past their status timers (" + ", ".join(f"{model.label(s)} {span_text(m * 60)}" for s, m in timers)
            + "), not checked in since")


def _check_rows(r: Report) -> list[list[str]]:
    now = r.made_ms / 1000
    rows = []
    for c in r.to_check:
        u = c.unit
        since = due_timestamp(u.status_since) if u.status_since else None
        rows.append([u.callsign or "", u.agency or "", model.label(u.status),
                     span_text(now - since) if since is not None else "", span_text(c.past),
                     local_time(c.checked, seconds=False) if c.checked else "", _clip(c.task)])
    return rows


def _table(headers: list[str], rows: list[list[str]], right: set[int] = frozenset()) -> list[str]:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


def _clip(text: str | None, n: int = 48) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def as_text(r: Report) -> str:
    out = [f"SITUATION REPORT — {r.agency}",
           f"Made {_when(r.made_ms)} by {r.operator}, from this console's copy of the operation.",
           f"Period: {_period(r)}.", ""]
    out += ["HOW CURRENT THIS IS", *(f"  {x}" for x in _currency(r)), ""]
    out.append(f"UNITS ({r.unit_total.total:,}, {r.unit_total.personnel:,} personnel)")
    if r.units:
        heads = ["Agency", *(model.label(s) for s in STATUSES), "Total", "Personnel"]
        rows = [[line.agency, *(str(line.counts[s]) for s in STATUSES), str(line.total), str(line.personnel)]
                for line in [*r.units, r.unit_total]]
        out += [f"  {x}" for x in _table(heads, rows, right=set(range(1, len(heads))))]
    else:
        out.append("  none")
    out.append("")
    out.append(f"UNITS TO CHECK ({r.to_check_total:,}): {_timers_text(r)}")
    if len(r.to_check) < r.to_check_total:
        out.append(f"  the {len(r.to_check):,} longest past shown")
    if r.to_check:
        out += [f"  {x}" for x in _table(["Unit", "Agency", "Status", "For", "Past by", "Last check-in", "Task"],
                                         _check_rows(r))]
    elif r.timers:
        out.append("  none")
    out.append("")
    counts = ", ".join(f"{n} {model.label(s)}" for s, n in r.tasks_by_status.items() if n)
    out.append(f"TASKS STILL TO DO ({r.to_do_total:,}; all tasks: {counts or 'none'})")
    if r.overdue_total:
        out.append(f"  {r.overdue_total:,} OVERDUE")
    if r.unstaffed_total:
        out.append(f"  {r.unstaffed_total:,} with no unit on {'them' if r.unstaffed_total != 1 else 'it'}")
    if len(r.to_do) < r.to_do_total:
        out.append(f"  the {len(r.to_do):,} most urgent shown")
    if r.to_do:
        rows = [[model.label(t.task.priority or "normal"), model.label(t.task.status or "open"), _clip(t.task.title),
                 _clip(t.task.location, 32), t.task.lead_agency or "", _clip(", ".join(t.callsigns), 32), _due(t)]
                for t in r.to_do]
        out += [f"  {x}" for x in _table(["Priority", "Status", "Task", "Location", "Lead", "Units", "Due"], rows)]
    out.append("")
    out.append(f"RESOURCES ({r.resources_total:,}{_stock_watch(r).upper()})")
    if len(r.resources) < r.resources_total:
        out.append(f"  the first {len(r.resources):,} by name shown")
    if r.resources:
        rows = [[x.agency or "", _clip(x.name), _clip(x.kind, 32), _clip(x.location, 32),
                 _quantity(x) + (" LOW" if model.stock_low(x) and x.quantity > 0 else ""), x.unit or "",
                 _low_at(x)] for x in r.resources]
        out += [f"  {x}" for x in _table(["Agency", "Name", "Kind", "Location", "Quantity", "Unit", "Low at"], rows,
                                         right={4, 6})]
    out.append("")
    entries = sum(n for n, _ in r.journal.values())
    out.append(f"JOURNAL: {entries:,} entr{'ies' if entries != 1 else 'y'} in the period"
               + (" (" + ", ".join(f"{a or '?'} {n:,}" for a, (n, _) in sorted(
                   r.journal.items(), key=lambda kv: (kv[0] or "").casefold())) + ")" if r.journal else ""))
    out.append(f"NOTES IN THE PERIOD ({r.notes_total:,}), times in {zone_name()}"
               + (f"; the newest {len(r.notes):,} shown" if len(r.notes) < r.notes_total else ""))
    for e in r.notes:
        out.append(_entry_line(e))
    return "\n".join(out) + "\n"


def _entry_line(e: JournalEntry) -> str:
    """A journal entry as a line of a text report, in this computer's zone."""
    return f"  {local_time(e.at, seconds=False)}  {e.agency} ({e.operator}): {' '.join(e.text.split())}"


def _entries_html(entries: Sequence[JournalEntry], what: str, none: str) -> str:
    """Journal entries as an HTML table (`what` heads the text column), or `none`."""
    if not entries:
        return f"<p>{html.escape(none)}</p>"
    e = html.escape
    rows = "".join(f"<tr><td>{e(local_time(x.at, seconds=False))}</td><td>{e(x.agency or '')}</td>"
                   f"<td>{e(x.operator or '')}</td><td>{e(x.text)}</td></tr>" for x in entries)
    return f"<table><tr><th>Time</th><th>Agency</th><th>Operator</th><th>{e(what)}</th></tr>{rows}</table>"


def _page(title: str, body: str) -> str:
    """A whole HTML page around `body`, with the reports' style."""
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>\n" + body + "\n</body></html>\n")


_CSS = """
body { font-family: sans-serif; font-size: 10pt; }
h1 { font-size: 14pt; margin-bottom: 2pt; }
h2 { font-size: 11pt; margin: 12pt 0 4pt; border-bottom: 1px solid #888; }
table { border-collapse: collapse; }
th, td { border: 1px solid #bbb; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #eee; }
td.n { text-align: right; }
tr.total td { font-weight: bold; }
.overdue { color: #c62828; font-weight: bold; }
.low { color: #b85000; font-weight: bold; }
.warn { color: #b71c1c; font-weight: bold; }
"""

# Qt's rich text (the window's view of a report, and its PDF and print)
# lays tables with collapsed borders out at half the speed: a long
# operation's situation report, 900 rows in its tables, took 0.23 s to lay
# out and 0.56 s to show, against 0.10 s and 0.28 s with the same lines
# drawn as the table's own border. Browsers draw that border otherwise
# (raised), so a report saved as HTML keeps the CSS borders.
_QT_CSS = (_CSS.replace("table { border-collapse: collapse; }\n", "")
           .replace("th, td { border: 1px solid #bbb; ", "th, td { "))
_QT_TABLE = '<table border="1" cellspacing="0" style="border-color: #bbb">'


def for_qt(page: str) -> str:
    """A report's HTML page (as `as_html`, `assignment_html` and
    `activity_html` make them) as Qt's rich text draws it fast: the same
    text and lines, the tables' borders drawn by Qt itself. (What people
    wrote is escaped in the page, so no `<table>` of theirs is touched.)"""
    return page.replace(f"<style>{_CSS}</style>", f"<style>{_QT_CSS}</style>", 1).replace("<table>", _QT_TABLE)


def as_html(r: Report) -> str:
    e = html.escape

    def table(headers, rows, numeric=frozenset(), classes=None):
        head = "".join(f"<th>{e(h)}</th>" for h in headers)
        body = []
        for i, row in enumerate(rows):
            cls = f' class="{classes[i]}"' if classes and classes[i] else ""
            cells = "".join(f'<td class="n">{c}</td>' if j in numeric else f"<td>{c}</td>" for j, c in enumerate(row))
            body.append(f"<tr{cls}>{cells}</tr>")
        return f"<table><tr>{head}</tr>{''.join(body)}</table>"

    currency = _currency(r)
    warn = {i for i, x in enumerate(currency) if ("not reached" in x or "to reconcile" in x or "never" in x)}
    parts = [f"<h1>Situation report — {e(r.agency)}</h1>",
             f"<p>Made {e(_when(r.made_ms))} by {e(r.operator)}, from this console's copy of the operation.<br>"
             f"Period: {e(_period(r))}.</p>",
             "<h2>How current this is</h2><ul>"
             + "".join(f'<li{" class=warn" if i in warn else ""}>{e(x)}</li>' for i, x in enumerate(currency))
             + "</ul>",
             f"<h2>Units ({r.unit_total.total:,}, {r.unit_total.personnel:,} personnel)</h2>"]
    if r.units:
        heads = ["Agency", *(model.label(s) for s in STATUSES), "Total", "Personnel"]
        lines = [*r.units, r.unit_total]
        rows = [[e(x.agency), *(str(x.counts[s]) for s in STATUSES), str(x.total), str(x.personnel)] for x in lines]
        parts.append(table(heads, rows, numeric=set(range(1, len(heads))),
                           classes=[""] * len(r.units) + ["total"]))
    else:
        parts.append("<p>None.</p>")
    shown = f" The {len(r.to_check):,} longest past are shown." if len(r.to_check) < r.to_check_total else ""
    count = f'<span class="overdue">{r.to_check_total:,}</span>' if r.to_check_total else "0"
    parts.append(f"<h2>Units to check ({count})</h2><p>{e(_timers_text(r))}.{shown}</p>")
    if r.to_check:
        parts.append(table(["Unit", "Agency", "Status", "For", "Past by", f"Last check-in ({zone_name()})", "Task"],
                           [[e(c) for c in row] for row in _check_rows(r)]))
    counts = ", ".join(f"{n} {model.label(s)}" for s, n in r.tasks_by_status.items() if n)
    over = f' — <span class="overdue">{r.overdue_total:,} overdue</span>' if r.overdue_total else ""
    if r.unstaffed_total:
        over += f' — <span class="overdue">{r.unstaffed_total:,} with no unit</span>'
    shown = f" The {len(r.to_do):,} most urgent are shown." if len(r.to_do) < r.to_do_total else ""
    parts.append(f"<h2>Tasks still to do ({r.to_do_total:,}{over})</h2>"
                 f"<p>All tasks: {e(counts or 'none')}.{shown}</p>")
    if r.to_do:
        rows = [[e(model.label(t.task.priority or "normal")), e(model.label(t.task.status or "open")),
                 e(t.task.title or ""), e(t.task.location or ""), e(t.task.lead_agency or ""),
                 e(", ".join(t.callsigns)),
                 f'<span class="overdue">{e(_due(t))}</span>' if t.due_in is not None and t.due_in < 0 else e(_due(t))]
                for t in r.to_do]
        parts.append(table(["Priority", "Status", "Task", "Location", "Lead", "Units", f"Due ({zone_name()})"],
                           rows))
    watch = f' — <span class="overdue">{e(_stock_watch(r)[2:])}</span>' if r.low_total or r.out_total else ""
    parts.append(f"<h2>Resources ({r.resources_total:,}{watch})</h2>")
    if len(r.resources) < r.resources_total:
        parts.append(f"<p>The first {len(r.resources):,} by name are shown.</p>")
    if r.resources:
        rows = [[e(x.agency or ""), e(x.name or ""), e(x.kind or ""), e(x.location or ""), _stock_html(x),
                 e(x.unit or ""), e(_low_at(x))] for x in r.resources]
        parts.append(table(["Agency", "Name", "Kind", "Location", "Quantity", "Unit", "Low at"], rows,
                           numeric={4, 6}))
    entries = sum(n for n, _ in r.journal.values())
    per = ", ".join(f"{e(a or '?')} {n:,}" for a, (n, _) in sorted(r.journal.items(),
                                                                 key=lambda kv: (kv[0] or "").casefold()))
    newest = f" The newest {len(r.notes):,} notes are shown." if len(r.notes) < r.notes_total else ""
    parts.append(f"<h2>Notes in the period ({r.notes_total:,})</h2>"
                 f"<p>{entries:,} journal entr{'ies' if entries != 1 else 'y'} in the period"
                 f"{f' ({per})' if per else ''}.{newest}</p>")
    if r.notes:
        rows = [[e(local_time(n.at, seconds=False)), e(n.agency or ""), e(n.operator or ""), e(n.text)]
                for n in r.notes]
        parts.append(table([f"Time ({zone_name()})", "Agency", "Operator", "Note"], rows))
    title = f"Situation report — {r.agency} — {time.strftime('%Y-%m-%d %H:%M', time.localtime(r.made_ms / 1000))}"
    return _page(title, "\n".join(parts))


# ------------------------------------------------------- an assignment list

ASSIGNMENT_HISTORY = 200  # the most journal entries about the task an assignment list shows


@dataclass(frozen=True)
class Assignment:
    """One task as an ICS 204 assignment list: the work, the units on it,
    and what the journal says about it."""

    agency: str
    operator: str
    made_ms: int
    task: Task
    units: list[Unit]  # by agency, then callsign
    history: list[JournalEntry]  # entries about the task, oldest first (the newest, if more)
    history_total: int
    due_in: float | None


def build_assignment(store: Store, task_ref: str, *, now_ms: int | None = None) -> Assignment:
    """Read a task's assignment list (`task_ref`: its id or a unique start
    or end of it), in one read transaction."""
    now_ms = clock.wall_ms() if now_ms is None else now_ms
    with store.reading():
        task = store.get("tasks", store.resolve_id("tasks", task_ref))
        units = sorted(store.units_on(task.id), key=lambda u: ((u.agency or "").casefold(),
                                                               (u.callsign or "").casefold()))
        history = store.journal(table="tasks", row=task.id, limit=ASSIGNMENT_HISTORY + 1)
    total = len(history)
    history = history[:ASSIGNMENT_HISTORY][::-1]
    return Assignment(store.agency, store.operator, now_ms, task, units, history, total,
                      due_in(task, now_ms / 1000))


def _task_facts(a: Assignment) -> list[tuple[str, str]]:
    t = a.task
    due = ""
    if t.due:
        due = f"{local_time(t.due, seconds=False)} {zone_name()}"
        if a.due_in is not None:
            due += f" (OVERDUE by {span_text(-a.due_in)})" if a.due_in < 0 else f" (in {span_text(a.due_in)})"
    return [("Priority", model.label(t.priority or "normal")), ("Status", model.label(t.status or "open")),
            ("Location", t.location or ""), ("Lead agency", t.lead_agency or ""), ("Due", due),
            ("Task id", t.id)]


def _unit_rows(a: Assignment) -> list[list[str]]:
    return [[u.callsign or "", u.agency or "", u.kind or "", model.label(u.status or "available"),
             "" if u.personnel is None else str(u.personnel), u.location or "", " ".join((u.notes or "").split())]
            for u in a.units]


def _history_note(a: Assignment) -> str:
    return (f"the newest {len(a.history):,} of {a.history_total:,}+ shown"
            if a.history_total > len(a.history) else "")


def assignment_text(a: Assignment) -> str:
    people = sum(u.personnel or 0 for u in a.units)
    out = [f"ASSIGNMENT LIST (ICS 204) — {a.task.title}",
           f"Prepared {_when(a.made_ms)} by {a.operator} ({a.agency}), from this console's copy of the operation.",
           ""]
    width = max(len(k) for k, _ in _task_facts(a))
    out += [f"  {k.ljust(width)}  {v}" for k, v in _task_facts(a) if v]
    out += ["", "WORK ASSIGNMENT", *(f"  {line}" for line in (a.task.description or "(none written)").splitlines()),
            ""]
    out.append(f"RESOURCES ASSIGNED ({len(a.units)} unit{'s' if len(a.units) != 1 else ''}, {people:,} personnel)")
    if a.units:
        rows = [[*r[:6], _clip(r[6], 40)] for r in _unit_rows(a)]
        out += [f"  {x}" for x in _table(["Unit", "Agency", "Kind", "Status", "Crew", "Location", "Notes"], rows,
                                         right={4})]
    else:
        out.append("  none")
    out += ["", f"JOURNAL ABOUT THIS TASK, times in {zone_name()}" + (f" ({_history_note(a)})" if _history_note(a)
                                                                      else "")]
    for e in a.history:
        out.append(_entry_line(e))
    if not a.history:
        out.append("  none")
    out += ["", "Approved by: ______________________________   Time: __________", ""]
    return "\n".join(out)


def assignment_html(a: Assignment) -> str:
    e = html.escape
    people = sum(u.personnel or 0 for u in a.units)
    facts = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _task_facts(a) if v)
    parts = [f"<h1>Assignment list (ICS 204) — {e(a.task.title or '')}</h1>",
             f"<p>Prepared {e(_when(a.made_ms))} by {e(a.operator)} ({e(a.agency)}), from this console's copy of "
             "the operation.</p>",
             f"<table>{facts}</table>",
             "<h2>Work assignment</h2>",
             "<p>" + "<br>".join(e(line) for line in (a.task.description or "(none written)").splitlines()) + "</p>",
             f"<h2>Resources assigned ({len(a.units)} unit{'s' if len(a.units) != 1 else ''}, "
             f"{people:,} personnel)</h2>"]
    if a.units:
        head = "".join(f"<th>{h}</th>" for h in ("Unit", "Agency", "Kind", "Status", "Crew", "Location", "Notes"))
        body = "".join("<tr>" + "".join(f'<td class="n">{e(c)}</td>' if i == 4 else f"<td>{e(c)}</td>"
                                        for i, c in enumerate(r)) + "</tr>" for r in _unit_rows(a))
        parts.append(f"<table><tr>{head}</tr>{body}</table>")
    else:
        parts.append("<p>None.</p>")
    note = _history_note(a)
    parts.append(f"<h2>Journal about this task</h2><p>Times in {e(zone_name())}{e('; ' + note) if note else ''}.</p>")
    parts.append(_entries_html(a.history, "Entry", "None."))
    parts.append("<p><br>Approved by: ______________________________ &nbsp; Time: __________</p>")
    title = f"Assignment list — {a.task.title or ''}"
    return _page(title, "\n".join(parts))


# ------------------------------------------------------- a unit's activity log

ACTIVITY_ENTRIES = 500  # the most journal entries an activity log lists (the newest of the period)


@dataclass(frozen=True)
class ActivityLog:
    """One unit's ICS 214 for a period: the unit, where it is and what it
    is on now, and what the journal says of it in the period."""

    agency: str
    operator: str
    made_ms: int
    since_ms: int
    unit: Unit
    task: Task | None  # the task it is on now
    entries: list[JournalEntry]  # about the unit in the period, oldest first (the newest, if more)
    entries_total: int  # in the period
    deleted: bool  # the unit was stood down (deleted)


def build_activity(store: Store, unit_ref: str, *, hours: float = DEFAULT_HOURS,
                   now_ms: int | None = None) -> ActivityLog:
    """Read a unit's activity log (`unit_ref`: its callsign, id, or a unique
    start or end of the id; a deleted unit's too, by its id), in one read
    transaction."""
    now_ms, since_ms = _period_ms(hours, now_ms)
    since = clock.pack(since_ms)
    with store.reading():
        try:
            unit_id = store.resolve_id("units", unit_ref)
        except NotFound:
            unit_id = store.resolve_id("units", unit_ref, live=False)  # stood down (deleted) since
        unit = store.get("units", unit_id, deleted=True)
        task = next(iter(store.get_many("tasks", [unit.task_id])), None) if unit.task_id else None
        entries = [e for _, e in store.journal_page(table="units", row=unit_id, down_to=(since, ""),
                                                    limit=ACTIVITY_ENTRIES)]
        total = (len(entries) if len(entries) < ACTIVITY_ENTRIES
                 else store.journal_count(table="units", row=unit_id, down_to=(since, "")))
        stood_down = not store.get_many("units", [unit_id])
    return ActivityLog(store.agency, store.operator, now_ms, since_ms, unit, task, entries[::-1], total,
                       stood_down)


def _unit_facts(a: ActivityLog) -> list[tuple[str, str]]:
    u = a.unit
    status = model.label(u.status or "available")
    if u.status_since:
        status += f" since {local_time(u.status_since, seconds=False)}"
    return [("Unit", u.callsign or ""), ("Home agency", u.agency or ""), ("Kind", u.kind or ""),
            ("Crew", "" if u.personnel is None else f"{u.personnel:,}"),
            ("Status", "stood down (deleted)" if a.deleted else status),
            ("Task", a.task.title if a.task else ""), ("Location", u.location or ""),
            ("Notes", " ".join((u.notes or "").split())), ("Unit id", u.id)]


def _activity_period(a: ActivityLog) -> str:
    return f"{_when(a.since_ms)} to {_when(a.made_ms)}"


def _activity_note(a: ActivityLog) -> str:
    return (f"the newest {len(a.entries):,} of {a.entries_total:,} shown"
            if a.entries_total > len(a.entries) else "")


ACTIVITY_UNITS = 100  # the most units whose logs are read at once


def build_activities(store: Store, unit_refs: Sequence[str], *, hours: float = DEFAULT_HOURS,
                     now_ms: int | None = None) -> list[ActivityLog]:
    """The activity logs of several units (each named once), for one
    period ending at one moment: at the end of a shift, every unit's."""
    if not unit_refs:
        raise model.ValidationError("no unit named: give at least one")
    if len(unit_refs) > ACTIVITY_UNITS:
        raise model.ValidationError(f"{len(unit_refs):,} units: the activity logs of at most {ACTIVITY_UNITS} "
                                    "are made at once")
    now_ms = clock.wall_ms() if now_ms is None else now_ms
    logs, seen = [], set()
    for ref in unit_refs:
        log = build_activity(store, ref, hours=hours, now_ms=now_ms)
        if log.unit.id not in seen:
            seen.add(log.unit.id)
            logs.append(log)
    return logs


def _logs(a: ActivityLog | Sequence[ActivityLog]) -> list[ActivityLog]:
    return [a] if isinstance(a, ActivityLog) else list(a)


def activity_text(logs: ActivityLog | Sequence[ActivityLog]) -> str:
    """One unit's activity log, or several, one after the other."""
    return ("\n" + "=" * 78 + "\n\n").join(_activity_text(a) for a in _logs(logs))


def _activity_text(a: ActivityLog) -> str:
    out = [f"ACTIVITY LOG (ICS 214) — {a.unit.callsign}",
           f"Operational period: {_activity_period(a)}",
           f"Prepared {_when(a.made_ms)} by {a.operator} ({a.agency}), from this console's copy of the operation.",
           ""]
    facts = [(k, v) for k, v in _unit_facts(a) if v]
    width = max(len(k) for k, _ in facts)
    out += [f"  {k.ljust(width)}  {v}" for k, v in facts]
    note = _activity_note(a)
    out += ["", f"ACTIVITY ({a.entries_total:,} entr{'ies' if a.entries_total != 1 else 'y'}), times in "
                f"{zone_name()}" + (f" ({note})" if note else "")]
    for e in a.entries:
        out.append(_entry_line(e))
    if not a.entries:
        out.append("  none in the period")
    out += ["", "Prepared by: ______________________________   Position: ______________   Signature: __________",
            ""]
    return "\n".join(out)


def activity_html(logs: ActivityLog | Sequence[ActivityLog]) -> str:
    """One unit's activity log, or several, each on pages of its own."""
    logs = _logs(logs)
    body = '\n<div style="page-break-before: always"></div>\n'.join(_activity_body(a) for a in logs)
    title = (f"Activity log — {logs[0].unit.callsign or ''}" if len(logs) == 1
             else f"Activity logs — {len(logs)} units")
    return _page(title, body)


def _activity_body(a: ActivityLog) -> str:
    e = html.escape
    facts = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _unit_facts(a) if v)
    note = _activity_note(a)
    parts = [f"<h1>Activity log (ICS 214) — {e(a.unit.callsign or '')}</h1>",
             f"<p>Operational period: {e(_activity_period(a))}.<br>"
             f"Prepared {e(_when(a.made_ms))} by {e(a.operator)} ({e(a.agency)}), from this console's copy of "
             "the operation.</p>",
             f"<table>{facts}</table>",
             f"<h2>Activity ({a.entries_total:,})</h2>"
             f"<p>Times in {e(zone_name())}{e('; ' + note) if note else ''}.</p>"]
    parts.append(_entries_html(a.entries, "Activity", "None in the period."))
    parts.append("<p><br>Prepared by: ______________________________ &nbsp; Position: ______________ &nbsp; "
                 "Signature: __________</p>")
    return "\n".join(parts)
