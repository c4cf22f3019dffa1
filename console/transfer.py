"""Transfer files: changes carried by hand where there is no network at all.

A transfer file is JSON lines: a header, one change per line (the wire form
of codec.py), and a trailer with the count and a SHA-256 of the change lines.
The trailer makes a file cut short on a pulled USB stick fail loudly instead
of importing half. Import checks the whole file before applying anything,
then applies it a batch at a time (memory holds one batch, whatever the
file's size), and applying is idempotent, so importing the same file twice
changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

from console import clock, codec
from console.merge import Change
from console.model import ValidationError
from console.store import ApplyResult, Store, short_id

FORMAT = "crisis-console-changes"
VERSION = 1
MAX_LINE = 1 << 20
MAX_INFO = 16 << 20  # an info file's version vector: some 60 bytes a replica


class TransferError(ValueError):
    """The file is not a transfer file, or is damaged."""


def _is_vv(vv) -> bool:
    return isinstance(vv, dict) and all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0 for k, v in vv.items()
    )


def read_info(path: str | os.PathLike) -> dict:
    """Another console's `crisis-console info --json` (or the window's Sync
    ▸ Write this console's info to a file), to write only what it lacks;
    TransferError if the file is not that."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_INFO:  # (a file picked by mistake: not read whole)
            raise TransferError(f"{path}: too large to be a console's info (the output of "
                                "`crisis-console info --json`)")
        info = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TransferError(f"{path}: {exc.strerror}") from None
    except ValueError as exc:
        raise TransferError(f"{path}: not readable info JSON ({exc})") from None
    if not isinstance(info, dict) or not _is_vv(info.get("version_vector")) \
            or not isinstance(info.get("replica_id"), str):
        raise TransferError(f"{path}: not a console's info (the output of `crisis-console info --json`)")
    return info


def lacking_of(store: Store, for_info: str | os.PathLike | None = None,
               for_console: str | None = None) -> dict | None:
    """What the console a file is written for holds, to leave out: as its
    info file says (`for_info`), or as it was last in touch by sync
    (`for_console`, its console ID on the trust list); None for every
    change."""
    if for_info:
        return read_info(for_info)
    if for_console:
        return store.peer_holds(for_console)
    return None


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    changes: int
    for_replica: str | None


def export_changes(store: Store, path: str | os.PathLike, *, lacking: Mapping | None = None,
                   progress: Callable[[int, int], None] | None = None) -> ExportSummary:
    """Write the changes a console with `lacking` (its `info --json`) does
    not have, or every change when `lacking` is None. `progress(done,
    total)` hears after each batch of 5000 written."""
    path = Path(path)
    if path.is_dir() or not path.name:
        raise TransferError(f"{path} is a folder: give the transfer file's name, e.g. {path / 'for-eoc.changes'}")
    if not path.parent.is_dir():
        raise TransferError(f"{path}: the folder {path.parent} does not exist")
    vv: dict[str, int] = {}
    for_replica = None
    if lacking is not None:
        vv = lacking.get("version_vector")
        for_replica = lacking.get("replica_id")
        if not _is_vv(vv):
            raise TransferError("the other console's info has no valid version_vector")
    header = {
        "format": FORMAT, "version": VERSION, "replica_id": store.replica_id,
        "agency": store.agency, "created": clock.to_iso(store.clock.now()), "for": for_replica,
    }
    if lacking is not None:
        # What the file leaves out as held there already: the console that
        # merges it says so if it does not hold all of that (the file was
        # meant for another console, or this one was restored since).
        header["for_vv"] = vv
    digest = hashlib.sha256()
    count = 0
    total = store.count_missing(vv) if progress is not None else 0
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(header) + "\n")
            for batch in store.wire_since(vv, batch=5000):
                for _, _, text in batch:
                    line = text + "\n"
                    digest.update(line.encode())
                    fh.write(line)
                    count += 1
                if progress is not None:
                    progress(count, max(total, count))
            fh.write(json.dumps({"end": True, "count": count, "sha256": digest.hexdigest()}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return ExportSummary(path, count, for_replica)


@dataclass(frozen=True)
class ImportSummary:
    from_replica: str
    from_agency: str
    result: ApplyResult
    # Changes the file was written as if this console held them (left out),
    # that it does not: see `export_changes`. Sync, or a file written for
    # this console's info now, brings them.
    not_held: int = 0
    for_replica: str | None = None


def whom(summary: ImportSummary, replica_id: str) -> str:
    """Whom a file was written for, as the console merging it says it."""
    if summary.for_replica == replica_id:
        return "this console"
    return f"console …{short_id(summary.for_replica)}" if summary.for_replica else "another console"


def _read(path: Path, batch: int) -> Iterator[tuple[dict, list[Change]]]:
    """Read a transfer file from start to end, checking every line, and
    yield (header, up to `batch` decoded changes) as it goes, so that memory
    holds one batch whatever the file's size. Raises TransferError where the
    file is damaged, at the latest at its end (count and checksum)."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 (closed by the with below)
    except OSError as exc:
        raise TransferError(f"{path}: {exc.strerror}") from None
    digest = hashlib.sha256()
    trailer = None
    count = 0
    part: list[Change] = []
    with fh:
        first = fh.readline(MAX_LINE)
        try:
            header = orjson.loads(first)
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise TransferError(f"{path} is not a crisis-console transfer file")
        if header.get("version") != VERSION:
            raise TransferError(f"{path}: transfer format version {header.get('version')!r} is not supported")
        if "for_vv" in header and not _is_vv(header["for_vv"]):
            raise TransferError(f"{path}: its header is damaged (for_vv)")
        for lineno, raw in enumerate(fh, start=2):
            if trailer is not None:
                raise TransferError(f"{path}: line {lineno}: data after the end marker")
            if len(raw) > MAX_LINE:
                raise TransferError(f"{path}: line {lineno} is too long")
            try:
                obj = orjson.loads(raw)
            except ValueError:
                raise TransferError(f"{path}: line {lineno} is not valid JSON (damaged file?)") from None
            if isinstance(obj, dict):
                trailer = obj
                continue
            digest.update(raw)
            try:
                part.append(codec.decode(obj))
            except ValidationError as exc:
                raise TransferError(f"{path}: line {lineno}: {exc}") from None
            count += 1
            if len(part) == batch:
                yield header, part
                part = []
    if trailer is None or trailer.get("end") is not True:
        raise TransferError(f"{path} is cut short (no end marker): copy it again")
    if trailer.get("count") != count or trailer.get("sha256") != digest.hexdigest():
        raise TransferError(f"{path} is damaged (count or checksum does not match): copy it again")
    if part or not count:
        yield header, part  # (a file with no changes still gives its header)


def check_file(path: str | os.PathLike) -> tuple[dict, int]:
    """The header and change count of a transfer file, every line of which
    has been read and checked; TransferError if it is damaged."""
    header, count = {}, 0
    for got in _read(Path(path), 5000):
        header, count = got[0], count + len(got[1])
    return header, count


def import_changes(store: Store, path: str | os.PathLike, *, batch: int = 5000,
                   progress: Callable[[int, int], None] | None = None) -> ImportSummary:
    """Merge a transfer file into `store`, as sync would.

    The whole file is read and checked first, and nothing is applied from a
    damaged one. Then it is read again and merged a batch at a time, so
    memory holds one batch whatever the file's size. `progress(done,
    total)` hears after each batch."""
    path = Path(path)
    header, total_count = check_file(path)
    total = ApplyResult()
    stop: dict[str, int] = {}
    done = 0
    try:
        for _, changes in _read(path, batch):
            # An origin refused in one batch stays refused from there on, so
            # its log here keeps no gap.
            part = [c for c in changes if c.seq < stop.get(c.origin, c.seq + 1)]
            r = store.apply(part)
            total.applied += r.applied
            total.duplicates += r.duplicates
            total.refused.extend(r.refused)
            for origin, seq, _ in r.refused:
                stop[origin] = min(seq, stop.get(origin, seq))
            done += len(changes)
            if progress is not None:
                progress(done, total_count)
    except TransferError as exc:
        # Checked whole a moment ago: the file changed under us (a stick
        # pulled, a copy still being written). What was merged is valid.
        raise TransferError(
            f"{path} changed while it was being imported ({total.applied} changes merged, each of them whole): "
            f"{exc}"
        ) from None
    for_replica = header.get("for")
    return ImportSummary(str(header.get("replica_id")), str(header.get("agency")), total,
                         store.count_not_held(header.get("for_vv") or {}),
                         for_replica if isinstance(for_replica, str) else None)


# ------------------------------------------------------------ for the window

def main(argv: list[str] | None = None) -> int:
    """`python -m console.transfer write|merge --db DB FILE [--for-info
    PATH | --for-console ID]`: what the window's Sync ▸ Write changes to a
    file and Merge changes from a file run, in a process of their own.
    Decoding and merging a large file is Python work; in the window's
    process it would share the interpreter lock with the window's thread,
    and freeze it for a large part of a second at a time. It says on
    standard output, one JSON object a line: {"progress": [DONE, TOTAL]}
    after each batch, then {"written": {"path", "changes"}}, or {"merged":
    {"from_replica", "from_agency", "applied", "duplicates", "refused":
    [[ORIGIN, SEQ, REASON], ...], "to_reconcile": TEXT, "not_held": N,
    "for": TEXT}}, or {"error": TEXT}; it exits 0, or 1 after an error."""
    import argparse
    import contextlib
    import sys

    from console.store import StoreError, to_reconcile

    ap = argparse.ArgumentParser(prog="python -m console.transfer",
                                 description="The window's transfer files (started by the window, not by hand).")
    ap.add_argument("what", choices=("write", "merge"))
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("file", type=Path)
    whom_ = ap.add_mutually_exclusive_group()
    whom_.add_argument("--for-info", type=Path, help="write only what the console of this info file lacks")
    whom_.add_argument("--for-console", help="write only what this trusted console lacked when last in touch")
    args = ap.parse_args(argv)
    with contextlib.suppress(AttributeError, OSError):
        os.nice(10)  # background work, as the window's sync engine (Windows: started below normal priority)

    def say(obj: dict) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    def progress(done: int, total: int) -> None:
        say({"progress": [done, total]})

    try:
        with Store(args.db, create=False) as store:
            if args.what == "write":
                store.refuse_own_file(args.file)
                lacking = lacking_of(store, args.for_info, args.for_console)
                w = export_changes(store, args.file, lacking=lacking, progress=progress)
                say({"written": {"path": str(w.path), "changes": w.changes}})
            else:
                m = import_changes(store, args.file, progress=progress)
                say({"merged": {
                    "from_replica": m.from_replica, "from_agency": m.from_agency, "applied": m.result.applied,
                    "duplicates": m.result.duplicates, "refused": [list(r) for r in m.result.refused],
                    "to_reconcile": to_reconcile(store.open_conflict_count(), store.twin_count(),
                                                 store.stranded_count()),
                    "not_held": m.not_held, "for": whom(m, store.replica_id)}})
    except OSError as exc:
        say({"error": f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc)})
        return 1
    except (TransferError, StoreError, ValidationError) as exc:
        say({"error": str(exc)})
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
