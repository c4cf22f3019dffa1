"""Filling a database: the demo scenario from `resources/`, or synthetic rows
for benchmarks."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from console import model
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


def seed_demo(store: Store) -> dict[str, int]:
    """Load the river-flood scenario; returns how many rows of each kind."""
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
    ids = store.add_many("tasks", tasks, summary=f"Opened {data['name']}: {len(tasks)} tasks")
    task_ids = dict(zip((t["title"] for t in tasks), ids, strict=True))
    units = []
    for u in data["units"]:
        values = {k: v for k, v in u.items() if k != "task"}
        if "task" in u:
            values["task_id"] = task_ids[u["task"]]
        units.append(values)
    store.add_many("units", units, summary=f"Checked in {len(units)} units")
    store.add_many("resources", data["resources"], summary=f"Inventoried {len(data['resources'])} resources")
    for text in data["notes"]:
        store.note(text)
    return {"tasks": len(tasks), "units": len(units), "resources": len(data["resources"]), "notes": len(data["notes"])}


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
