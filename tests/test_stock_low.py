"""A stock item's low mark (resources.low_at): the quantity at or below
which it is low, to send for more. Set by any console and synced as any
field; a draw that leaves the item there says so in the journal; the
situation report counts and marks the items low; spreadsheets name the
column as logistics sections do; an older database gets the column."""

import pytest
from conftest import as_version, converge, sync
from test_merge_resources import apart, stock

from console import csv_rows, model, report
from console.model import ValidationError
from console.store import SCHEMA_VERSION, Store


def test_an_item_is_low_at_or_below_its_mark_and_a_draw_that_leaves_it_there_says_so(make_store):
    s = make_store("eoc", agency="EOC")
    bags = stock(s, "Sandbags (filled)", 800, low_at=500)
    water = stock(s, "Bottled water", 40, unit="cases")  # no mark: never low, only out once none is left
    assert not model.stock_low(s.get("resources", bags)) and s.stock_watch() == (0, 0)
    s.adjust(bags, -250, "levee")
    assert s.list("journal")[0].text == "Drew 250 bags from Sandbags (filled) (now 550) for levee"
    s.adjust(bags, -50)
    assert s.list("journal")[0].text == "Drew 50 bags from Sandbags (filled) (now 500, low: at or below 500)"
    assert model.stock_low(s.get("resources", bags)) and s.stock_watch() == (1, 0)
    s.adjust(bags, +20)  # above it again: not said
    assert s.list("journal")[0].text == "Added 20 bags to Sandbags (filled) (now 520)"
    assert not model.stock_low(s.get("resources", bags))
    s.adjust(bags, -30)
    s.adjust(bags, +5)  # still low: still said
    assert s.list("journal")[0].text == "Added 5 bags to Sandbags (filled) (now 495, low: at or below 500)"
    s.adjust(water, -40)
    assert not model.stock_low(s.get("resources", water)) and s.stock_watch() == (1, 1)
    s.update("resources", water, {"low_at": 10})
    assert s.list("journal")[0].text == "Bottled water: low at — → 10"
    assert model.stock_low(s.get("resources", water)) and s.stock_watch() == (2, 1)  # none left is low too
    s.update("resources", bags, {"low_at": None})  # not watched any more
    assert s.stock_watch() == (1, 1)
    s.delete("resources", water)
    assert s.stock_watch() == (0, 0)


@pytest.mark.parametrize("value, said", [
    (-1, "resources.low_at must be at least 0, not -1"),
    (2.0005, "resources.low_at: 2.0005 has more than three decimal places"),
    (2e12, "resources.low_at must be at most 1e+12"),
    ("many", "resources.low_at must be a number, not str"),
])
def test_a_wrong_low_mark_is_refused_and_changes_nothing(make_store, value, said):
    s = make_store()
    bags = stock(s, "Sandbags", 800, low_at=500)
    before = s.info().counts
    with pytest.raises(ValidationError, match=said.replace("(", r"\(").replace("+", r"\+")):
        s.update("resources", bags, {"low_at": value})
    assert s.get("resources", bags).low_at == 500 and s.info().counts == before


def test_a_mark_set_on_two_consoles_apart_is_a_conflict_and_syncs_as_any_field(make_store):
    eoc, yard, first, _ = apart(make_store)
    eoc.update("resources", first, {"low_at": 500})
    yard.update("resources", first, {"low_at": 300})
    converge([eoc, yard])
    (c,) = eoc.conflicts()
    assert (c.table, c.field) == ("resources", "low_at")
    eoc.resolve(c.id, keep=[x.value for x in c.candidates].index(300.0) + 1)  # (1-based)
    converge([eoc, yard])
    assert eoc.get("resources", first).low_at == yard.get("resources", first).low_at == 300
    assert not yard.conflicts()


def test_a_merge_keeps_the_mark_of_the_values_kept_or_else_the_highest_the_others_have(make_store):
    eoc, yard, first, second = apart(make_store)
    eoc.update("resources", second, {"low_at": 400})
    kept = eoc.merge_resources([first, second])  # the first added's values: no mark of its own
    assert eoc.get("resources", kept).low_at == 400
    eoc.undo([eoc.last_operation])
    eoc.update("resources", first, {"low_at": 1000})
    kept = eoc.merge_resources([first, second], keep=second)  # the values of the one picked: its mark
    assert eoc.get("resources", kept).low_at == 400 and eoc.get("resources", kept).quantity == 2000
    sync(eoc, yard)
    assert yard.get("resources", kept).low_at == 400


def test_a_version_6_database_gets_the_column_and_its_stock_is_watched_from_then_on(make_store):
    eoc, yard, first, _ = apart(make_store)
    path = as_version(eoc, 6, "ALTER TABLE resources DROP COLUMN low_at")
    with Store(path) as s:
        assert s.info().schema_version == SCHEMA_VERSION == 7
        assert s.get("resources", first).low_at is None and s.get("resources", first).quantity == 1200
        s.update("resources", first, {"low_at": 1500})
        assert s.stock_watch() == (1, 0)
        sync(s, yard)
    assert yard.get("resources", first).low_at == 1500


def test_the_situation_report_counts_and_marks_the_stock_low_and_the_stock_gone(make_store):
    s = make_store("eoc", agency="EOC")
    stock(s, "Sandbags (filled)", 450, low_at=500)
    stock(s, "Sand", 240, unit="cu yd", low_at=50)
    stock(s, "Tarps", 0, unit="each")
    r = report.build(s)
    assert (r.low_total, r.out_total) == (1, 1)
    text = report.as_text(r)
    assert "RESOURCES (3; 1 LOW, 1 WITH NONE LEFT)" in text
    line = next(x for x in text.splitlines() if "Sandbags" in x)
    assert "450 LOW" in line and line.rstrip().endswith("500")
    assert "LOW" not in next(x for x in text.splitlines() if "Sand " in x)
    page = report.as_html(r)
    assert '<span class="overdue">1 low, 1 with none left</span>' in page
    assert '<span class="low">450</span>' in page and '<span class="overdue">0</span>' in page
    quiet = make_store("quiet")
    stock(quiet, "Sand", 240, unit="cu yd")
    assert "RESOURCES (1)\n" in report.as_text(report.build(quiet))


@pytest.mark.parametrize("header", ["Reorder point", "Low at", "low_at", "Mindestbestand", "Stock mínimo",
                                    "Seuil d'alerte", "Par level"])
def test_a_spreadsheet_names_the_mark_as_logistics_sections_do(tmp_path, make_store, header):
    path = tmp_path / "stock.csv"
    path.write_text(f"Item,Type,Owner,Qty,UoM,{header}\nSandbags,Supply,Public Works,1200,bags,1500\n"
                    "Cots,Shelter,County EMS,40,each,\n", encoding="utf-8")
    rows = csv_rows.read("resources", path).rows
    assert [r.get("low_at") for r in rows] == [1500, None]
    s = make_store()
    s.add_many("resources", rows)
    assert s.stock_watch() == (1, 0)
