"""Filling a database: the demo scenario from `resources/`, or synthetic rows
for benchmarks."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from console import clock, model
from console.store import Store


def resources_dir() -> Path:
    """`resources/` in a source checkout, or the copy a wheel installs."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_resources", here.parent / "resources"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("the resources folder is missing from this installation")


def load_demo() -> dict:
    return json.loads((resources_dir() / "demo" / "flood.json").read_text(encoding="utf-8"))


# The demo plays out over the last hours of the operational period, as the
# journal and the units' time in status then tell: not all in one second.
DEMO_HOURS = 3


def seed_demo(store: Store) -> dict[str, int]:
    """Load the river-flood scenario; returns how many rows of each kind.

    It is written as it would have happened over the last DEMO_HOURS hours:
    the tasks opened, the units checked in available, then sent out one by
    one, the resources counted, the notes written in between. Every one
    of these is a change of this console at its own (past) time, so the
    board's time in status and the journal read like a real shift."""
    data = load_demo()
    if store.counts()["units"]:
        raise model.ValidationError(f"{store.path} already holds units; seed the demo into a new database")
    now = datetime.now(UTC)
    tasks = []
    for t in data["tasks"]:
        values = {k: v for k, v in t.items() if k != "due_in_hours"}
        if "due_in_hours" in t:
            values["due"] = model.format_time(now + timedelta(hours=t["due_in_hours"]))
        tasks.append(values)
    units = [{**{k: v for k, v in u.items() if k not in ("task", "status")}, "status": "available"}
             for u in data["units"]]
    sent_out = [(i, u) for i, u in enumerate(data["units"]) if u.get("status", "available") != "available"
                or "task" in u]
    rng = random.Random(214)  # the same shift every time
    end_ms = int(now.timestamp() * 1000) - 60_000
    # Never before what this database's clock has issued already.
    start_ms = max(end_ms - DEMO_HOURS * 3_600_000, (store.clock.last >> clock.COUNTER_BITS) + 1)
    span = max(1, end_ms - start_ms)

    def at(share: float) -> int:  # a point of the shift, 0 its start and 1 its end
        return start_ms + int(span * share)

    events: list[tuple[int, int, Callable[[], None]]] = []
    task_ids: dict[str, str] = {}  # title -> id
    unit_ids: list[str] = []  # in the scenario's order

    def open_tasks() -> None:
        made = store.add_many("tasks", tasks, summary=f"Opened {data['name']}: {len(tasks)} tasks")
        task_ids.update(zip((t["title"] for t in tasks), made, strict=True))

    def check_in() -> None:
        unit_ids.extend(store.add_many("units", units, summary=f"Checked in {len(units)} units"))

    def send(i: int, u: dict) -> Callable[[], None]:
        def go() -> None:
            values = {"status": u.get("status", "available")}
            if "task" in u:
                values["task_id"] = task_ids[u["task"]]
            store.update("units", unit_ids[i], values)
        return go

    events.append((at(0), 0, open_tasks))
    events.append((at(0.02), 1, check_in))
    events.append((at(0.04), 2, lambda: store.add_many(
        "resources", data["resources"], summary=f"Inventoried {len(data['resources'])} resources")))
    for n, (i, u) in enumerate(sent_out):
        events.append((at(rng.uniform(0.06, 1.0)), 10 + n, send(i, u)))
    notes = data["notes"]
    for n, text in enumerate(notes):
        events.append((at(0.05 + 0.95 * (n + rng.uniform(0.1, 0.9)) / len(notes)), 1000 + n,
                       lambda text=text: store.note(text)))
    wall = store.clock.wall
    try:
        for when, _, do in sorted(events, key=lambda e: e[:2]):
            store.clock.wall = lambda when=when: when
            do()
    finally:
        store.clock.wall = wall
    return {"tasks": len(tasks), "units": len(units), "resources": len(data["resources"]), "notes": len(notes)}


def synthetic_rows(n: int, seed: int = 7) -> dict[str, list[dict]]:
    """N plausible rows for each entity table (tasks first: units refer to them)."""
    rng = random.Random(seed)
    agencies = ["County Fire", "City Police", "County EMS", "Public Works", "State DOT"]
    kinds = ["Engine, Type 1", "Ambulance (Ground), Type I ALS", "Law Enforcement Patrol Unit",
             "Dump Truck, Type 2", "Traffic Control Team", "Crew, Sandbagging"]
    streets = ["Main St", "Elm St", "River Rd", "Oak St", "Mill Creek Rd", "College Ave", "Route 41"]
    tasks = [
        {"title": f"Task {i:06d}: {rng.choice(['Check', 'Clear', 'Pump', 'Patrol', 'Evacuate'])} "
                  f"{rng.randint(100, 999)} {rng.choice(streets)}",
         "priority": rng.choice(model.PRIORITIES), "status": rng.choice(model.TASK_STATUSES),
         "location": f"{rng.randint(100, 999)} {rng.choice(streets)}", "lead_agency": rng.choice(agencies)}
        for i in range(n)
    ]
    units = [
        {"callsign": f"U-{i:06d}", "agency": rng.choice(agencies), "kind": rng.choice(kinds),
         "status": rng.choice(list(model.UNIT_STATUSES)), "location": rng.choice(streets),
         "personnel": rng.randint(1, 8), "lat": round(41.4 + rng.random() / 5, 5),
         "lon": round(-90.6 + rng.random() / 5, 5)}
        for i in range(n)
    ]
    resources = [
        {"name": f"Supply {i:06d}", "kind": rng.choice(["Supply", "Pump, Portable", "Generator"]),
         "agency": rng.choice(agencies), "location": rng.choice(streets),
         "quantity": rng.randint(0, 5000), "unit": rng.choice(["each", "bags", "cases", "gal"])}
        for i in range(n)
    ]
    notes = [{"text": f"Synthetic log entry {i:06d}"} for i in range(n)]
    return {"tasks": tasks, "units": units, "resources": resources, "journal": notes}


def seed_synthetic(store: Store, n: int, batch: int = 5000) -> dict[str, int]:
    """N synthetic rows per table, written in batches of `batch` rows."""
    if n < 1:
        raise model.ValidationError("--synthetic needs a positive number of rows")
    rows = synthetic_rows(n)
    task_ids: list[str] = []
    for name in ("tasks", "units", "resources", "journal"):
        data = rows[name]
        for i in range(0, n, batch):
            part = data[i : i + batch]
            if name == "units" and task_ids:
                for j, u in enumerate(part):
                    if (i + j) % 3 == 0:
                        u["task_id"] = task_ids[(i + j) % len(task_ids)]
            ids = store.add_many(name, part, summary=f"Synthetic {name} {i + 1}-{i + len(part)}")
            if name == "tasks":
                task_ids.extend(ids)
    return {name: n for name in rows}
