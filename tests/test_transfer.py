import json

import pytest
from conftest import snapshot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console import store as store_errors
from console import transfer


def edit(lines, old, new):
    """Replace `old` in the first change line holding it (the header is line 0)."""
    i = next(i for i, line in enumerate(lines) if i and old in line)
    return [*lines[:i], lines[i].replace(old, new), *lines[i + 1 :]]


def fill(store):
    t = store.add("tasks", {"title": "Levee"})
    u = store.add("units", {"callsign": "E-12", "agency": "F", "kind": "Engine", "task_id": t})
    store.update("units", u, {"status": "on scene"})
    return u


def test_round_trip_and_reimport_is_idempotent(make_store, tmp_path):
    a, b = make_store("a"), make_store("b")
    fill(a)
    f = tmp_path / "stick.changes"
    s = transfer.export_changes(a, f)
    # the task, the unit on it, the task made assigned by that, its status, and four journal entries
    assert s.changes == 8 and not (tmp_path / "stick.changes.part").exists()
    r = transfer.import_changes(b, f).result
    assert r.applied == 8
    assert snapshot(a) == snapshot(b)
    again = transfer.import_changes(b, f).result
    assert again.applied == 0 and again.duplicates == 8
    assert snapshot(a) == snapshot(b)


def test_export_for_another_console_holds_only_what_it_lacks(make_store, tmp_path):
    a, b = make_store("a"), make_store("b")
    u = fill(a)
    transfer.export_changes(a, tmp_path / "first", lacking=None)
    transfer.import_changes(b, tmp_path / "first")
    a.update("units", u, {"location": "North levee"})
    s = transfer.export_changes(a, tmp_path / "second", lacking=b.info().as_dict())
    assert s.changes == 2 and s.for_replica == b.replica_id  # the edit and its journal entry
    transfer.import_changes(b, tmp_path / "second")
    assert b.get("units", u).location == "North levee"


# Console IDs as `crisis-console id` prints them (two sharing their first group).
FIELD_ID = "-".join(["FELD"] + ["A2B3"] * 12)
OTHER_ID = "-".join(["FELD"] + ["Q7Q7"] * 12)


def test_export_for_a_console_last_in_touch_holds_what_it_lacked_then(make_store, tmp_path):
    """A field laptop synced at the EOC, then left for where no network
    reaches: the EOC writes for it what it lacked when last in touch, as
    sync left it written down, with no info file carried over first."""
    eoc, field = make_store("eoc"), make_store("field")
    u = fill(eoc)
    transfer.export_changes(eoc, tmp_path / "first")
    transfer.import_changes(field, tmp_path / "first")
    eoc.trust(FIELD_ID, "Field liaison")
    eoc.trust(OTHER_ID, "County Fire")
    with pytest.raises(store_errors.NotFound, match="has never been in touch, so what it holds is not known"):
        eoc.peer_holds(FIELD_ID)
    # As a sync session writes it at the field's hello.
    eoc.record_peer(FIELD_ID, replica_id=field.replica_id, acked_vv=field.version_vector(), hello=True)
    eoc.update("units", u, {"location": "North levee"})
    holds = eoc.peer_holds("feld a2b3")  # as typed from `peers`: its first groups
    assert (holds["console_id"], holds["agency"], holds["replica_id"]) == (FIELD_ID, "Field liaison", field.replica_id)
    s = transfer.export_changes(eoc, tmp_path / "second", lacking=holds)
    assert s.changes == 2 and s.for_replica == field.replica_id  # the edit and its journal entry
    m = transfer.import_changes(field, tmp_path / "second")
    assert m.result.applied == 2 and m.not_held == 0 and transfer.whom(m, field.replica_id) == "this console"
    assert snapshot(field) == snapshot(eoc)
    with pytest.raises(store_errors.NotFound, match="start of 2 trusted consoles' IDs"):
        eoc.peer_holds("FELD")
    with pytest.raises(store_errors.NotFound, match="no console on the trust list has the ID 'ABCD'"):
        eoc.peer_holds("ABCD")
    with pytest.raises(store_errors.NotFound, match="no console on the trust list"):
        eoc.peer_holds("FE")  # too short to name one


def test_a_file_merged_where_it_was_not_meant_says_what_it_left_out(make_store, tmp_path):
    """A file written for what one console held, merged on another (the
    wrong stick, or the console restored from a backup since): it merges,
    and the console says how many changes it still lacks that the file
    left out, counted exactly (some held out of order count as held)."""
    eoc, field, other = make_store("eoc"), make_store("field"), make_store("other")
    u = fill(eoc)
    transfer.export_changes(eoc, tmp_path / "first")
    transfer.import_changes(field, tmp_path / "first")
    for i in range(3):
        eoc.update("units", u, {"personnel": i + 1})  # 6 more changes: 3 edits, 3 entries
    transfer.export_changes(eoc, tmp_path / "second", lacking=field.info().as_dict())
    header = json.loads((tmp_path / "second").read_text().splitlines()[0])
    assert header["for"] == field.replica_id and header["for_vv"] == field.version_vector()
    m = transfer.import_changes(other, tmp_path / "second")
    assert (m.result.applied, m.not_held) == (6, 8)
    assert transfer.whom(m, other.replica_id) == f"console …{field.replica_id[-8:]}"
    # Sync (or the whole first file) brings the rest; nothing is then left out.
    transfer.import_changes(other, tmp_path / "first")
    assert transfer.import_changes(other, tmp_path / "second").not_held == 0
    assert snapshot(other) == snapshot(eoc)
    assert other.count_not_held({eoc.replica_id: 14}) == 0 and other.count_not_held({eoc.replica_id: 20}) == 6
    # A file with every change was written for no one: nothing to say.
    transfer.export_changes(eoc, tmp_path / "all")
    assert transfer.import_changes(make_store("new"), tmp_path / "all").not_held == 0


def test_an_info_file_that_is_not_one_is_refused_with_its_reason(make_store, tmp_path):
    a = make_store("a")
    info = tmp_path / "info.json"
    for text, reason in [("{", "not readable info JSON"), ("[1]", "not a console's info"),
                         ('{"replica_id": "r", "version_vector": {"x": -1}}', "not a console's info"),
                         ('{"version_vector": {}}', "not a console's info")]:
        info.write_text(text)
        with pytest.raises(transfer.TransferError, match=reason):
            transfer.read_info(info)
    with pytest.raises(transfer.TransferError, match="No such file"):
        transfer.read_info(tmp_path / "none.json")
    with open(info, "wb") as fh:  # a transfer file or a database picked by mistake: not read whole
        fh.truncate(transfer.MAX_INFO + 1)
    with pytest.raises(transfer.TransferError, match="too large to be a console's info"):
        transfer.read_info(info)
    info.write_text(json.dumps(a.info().as_dict()))
    assert transfer.read_info(info)["replica_id"] == a.replica_id


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda lines: lines[:-1], "cut short"),
        (lambda lines: lines[:-3] + lines[-1:], "damaged"),
        (lambda lines: edit(lines, "E-12", "E-13"), "damaged"),
        (lambda lines: [lines[0], "{not json", *lines[1:]], "not valid JSON"),
        (lambda lines: ['{"format": "something else"}', *lines[1:]], "not a crisis-console transfer file"),
        (lambda lines: [lines[0].replace('"version": 1', '"version": 9'), *lines[1:]], "version 9"),
        (lambda lines: edit(lines, '"units"', '"weapons"'), "unknown table"),
        (lambda lines: edit(lines, '"E-12"', '"E-\\udcff"'), "is not valid JSON"),
        (lambda lines: [*lines, lines[1]], "after the end marker"),
        (lambda lines: [], "not a crisis-console transfer file"),
        (lambda lines: [lines[0].replace('"for": null', '"for": null, "for_vv": {"x": "lots"}'), *lines[1:]],
         r"header is damaged \(for_vv\)"),
    ],
)
def test_damaged_files_are_refused_and_change_nothing(make_store, tmp_path, damage, message):
    a, b = make_store("a"), make_store("b")
    fill(a)
    f = tmp_path / "stick.changes"
    transfer.export_changes(a, f)
    lines = f.read_text().splitlines()
    f.write_text("\n".join(damage(lines)) + "\n")
    before = snapshot(b)
    with pytest.raises(transfer.TransferError, match=message):
        transfer.import_changes(b, f)
    assert snapshot(b) == before


def test_missing_file_and_bad_info(make_store, tmp_path):
    a = make_store("a")
    with pytest.raises(transfer.TransferError, match="No such file"):
        transfer.import_changes(a, tmp_path / "nothing")
    with pytest.raises(transfer.TransferError, match="version_vector"):
        transfer.export_changes(a, tmp_path / "x", lacking={"version_vector": {"a": "lots"}})
    json.dumps(a.info().as_dict())


def test_export_to_a_folder_or_nowhere_says_so_and_writes_nothing(make_store, tmp_path, monkeypatch):
    a = make_store("a")
    fill(a)
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(transfer.TransferError, match="is a folder: give the transfer file's name"):
        transfer.export_changes(a, tmp_path)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(transfer.TransferError, match="is a folder"):
        transfer.export_changes(a, "")  # an empty argument is the current folder
    with pytest.raises(transfer.TransferError, match=r"the folder .* does not exist"):
        transfer.export_changes(a, tmp_path / "no" / "such" / "stick.changes")
    assert sorted(tmp_path.rglob("*")) == before
    assert not (tmp_path.parent / (tmp_path.name + ".part")).exists()


def test_a_big_file_is_merged_a_batch_at_a_time_with_progress(make_store, tmp_path, monkeypatch):
    a, b = make_store("a"), make_store("b")
    a.add_many("units", [{"callsign": f"M-{i}", "agency": "F", "kind": "Engine"} for i in range(1200)])
    fill(a)
    f = tmp_path / "stick.changes"
    wrote = []
    total = transfer.export_changes(a, f, progress=lambda done, of: wrote.append((done, of))).changes
    assert total == 1200 + 1 + 8  # the rows, add_many's journal entry, fill's changes
    assert wrote == [(total, total)]  # one batch of up to 5000
    sizes, heard = [], []
    real_apply = b.apply
    monkeypatch.setattr(b, "apply", lambda changes: sizes.append(len(changes)) or real_apply(changes))
    r = transfer.import_changes(b, f, batch=500, progress=lambda done, of: heard.append((done, of))).result
    assert sizes == [500, 500, 209]  # never more than a batch decoded at once
    assert heard == [(500, total), (1000, total), (total, total)]
    assert r.applied == total and snapshot(a) == snapshot(b)


def test_a_file_that_changes_while_it_is_imported_stops_with_what_was_merged(make_store, tmp_path):
    a, b = make_store("a"), make_store("b")
    a.add_many("units", [{"callsign": f"E-{i}", "agency": "F", "kind": "Engine"} for i in range(700)])
    f = tmp_path / "stick.changes"
    transfer.export_changes(a, f)
    lines = f.read_text().splitlines()

    def damage_after_the_first_batch(done, total):
        if done == 500:  # checked whole before; now cut short, as a pulled stick would
            f.write_text("\n".join(lines[:-50]) + "\n")

    with pytest.raises(transfer.TransferError, match=r"changed while it was being imported \(500 changes merged"):
        transfer.import_changes(b, f, batch=500, progress=damage_after_the_first_batch)
    # What was merged is whole: the first 500 changes, in one committed batch.
    assert b.version_vector() == {a.replica_id: 500}
    assert b.counts()["units"] == 500
    # Copied again, it merges the rest.
    f.write_text("\n".join(lines) + "\n")
    assert transfer.import_changes(b, f).result.applied == 701 - 500
    assert snapshot(a) == snapshot(b)


@given(st.lists(st.tuples(st.sampled_from(["flip", "cut", "drop", "insert"]), st.floats(0, 1), st.binary(max_size=3)),
                min_size=1, max_size=3))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_file_damaged_anywhere_is_refused_whole_or_merged_whole(make_store, tmp_path, damage):
    """Bytes flipped, dropped, inserted or the file cut short, anywhere: the
    import refuses it with a reason and changes nothing, or (damage the
    checks cannot tell, none so far) merges what a whole file would."""
    a = make_store("a")
    if not a.counts()["units"]:
        fill(a)
    f = tmp_path / "stick.changes"
    if not f.exists():
        transfer.export_changes(a, f)
    data = bytearray(f.read_bytes())
    for kind, where, extra in damage:
        i = min(int(where * len(data)), max(len(data) - 1, 0))
        if kind == "flip" and data:
            data[i] ^= 1 << (i % 8)
        elif kind == "cut":
            del data[i:]
        elif kind == "drop" and data:
            del data[i]
        else:
            data[i:i] = extra
    damaged = tmp_path / "damaged.changes"
    damaged.write_bytes(bytes(data))
    b = make_store(f"b{len(list(tmp_path.iterdir()))}")
    before = snapshot(b)
    try:
        transfer.import_changes(b, damaged)
    except transfer.TransferError as exc:
        assert str(exc) and snapshot(b) == before
    else:
        assert snapshot(b) == snapshot(a)
