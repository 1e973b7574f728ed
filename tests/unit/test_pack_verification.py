"""PackVerification: each unit scanned into its package; a wrong or extra item refused naming what
was expected; a package closes only when complete; a measured weight off the expected one flagged."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.errors import Conflict, InvalidInput, NotFound
from oms.packing.cartons import Box, Item, choose_boxes
from oms.packing.verification import (
    ExtraItem,
    ItemsMissing,
    PackageClosed,
    PackVerification,
    ScanRecord,
    WrongItem,
)
from oms.web.errors import status_for

MUG_UPC = "036000291452"  # a valid UPC-A


@pytest.fixture
def pv() -> PackVerification:
    return PackVerification(
        {1: ["MUG", "BOOK", "BOOK"], 2: ["LAMP"]},
        barcodes={MUG_UPC: "MUG"},
        expected_weight_g={1: 2_000, 2: 1_500},
    )


def test_an_expected_item_is_accepted_by_sku_or_barcode(pv):
    assert pv.scan(1, "BOOK") == "BOOK"
    assert pv.scan(1, MUG_UPC) == "MUG"
    assert pv.missing(1) == {"BOOK": 1}
    assert pv.log[-1] == ScanRecord(1, MUG_UPC, "MUG", True)


def test_a_upc_read_as_ean13_still_matches(pv):
    assert pv.scan(1, "0" + MUG_UPC) == "MUG"
    assert pv.scan(1, " BOOK ") == "BOOK"  # scanners add whitespace


def test_an_item_of_another_package_is_refused_naming_what_was_expected(pv):
    with pytest.raises(WrongItem) as exc:
        pv.scan(1, "LAMP")
    err = exc.value
    assert err.code == "wrong_item" and isinstance(err, InvalidInput) and status_for(err) == 422
    assert err.detail == "LAMP belongs in package 2, not package 1; package 1 still needs MUG, BOOK × 2"
    assert err.extra["expected"] == {"MUG": 1, "BOOK": 2}
    assert pv.missing(1) == {"MUG": 1, "BOOK": 2}  # nothing changed


def test_an_item_not_in_the_shipment_is_refused(pv):
    with pytest.raises(WrongItem) as exc:
        pv.scan(2, "4006381333931")
    assert exc.value.detail == "4006381333931 is not an item of this shipment; package 2 still needs LAMP"


def test_an_extra_unit_is_refused(pv):
    pv.scan(2, "LAMP")
    with pytest.raises(ExtraItem) as exc:
        pv.scan(2, "LAMP")
    err = exc.value
    assert err.code == "extra_item" and isinstance(err, Conflict) and status_for(err) == 409
    assert err.detail == "LAMP: all 1 for package 2 are already scanned in; package 2 still needs nothing"


def test_refused_scans_are_logged_too(pv):
    with pytest.raises(WrongItem):
        pv.scan(1, "LAMP")
    assert pv.log == [ScanRecord(1, "LAMP", "LAMP", False, "wrong_item")]


def test_a_package_with_missing_items_cannot_be_closed(pv):
    pv.scan(1, "BOOK")
    with pytest.raises(ItemsMissing) as exc:
        pv.close(1)
    err = exc.value
    assert err.code == "items_missing" and isinstance(err, Conflict) and status_for(err) == 409
    assert err.detail == "package 1 cannot be closed: still missing MUG, BOOK"
    assert err.extra["missing"] == {"MUG": 1, "BOOK": 1}
    assert 1 not in pv.closed
    pv.scan(1, "BOOK")
    pv.scan(1, "MUG")
    assert pv.close(1).weight_ok


def test_a_weight_within_tolerance_passes(pv):
    pv.scan(2, "LAMP")
    outcome = pv.close(2, measured_weight_g=1_560, tolerance_pct=5)  # +4%
    assert outcome.warnings == () and outcome.weight_ok
    assert outcome.expected_weight_g == 1_500


def test_a_weight_outside_tolerance_is_flagged_not_refused(pv):
    pv.scan(2, "LAMP")
    outcome = pv.close(2, measured_weight_g=1_200)
    assert not outcome.weight_ok
    assert outcome.warnings == (
        "package 2 weighs 1200 g, 20.0% under the expected 1500 g (tolerance 5%): check its contents",
    )
    assert 2 in pv.closed


def test_a_closed_package_takes_no_more_scans_and_cannot_close_again(pv):
    pv.scan(2, "LAMP")
    pv.close(2)
    with pytest.raises(PackageClosed):
        pv.scan(2, "LAMP")
    with pytest.raises(PackageClosed):
        pv.close(2)
    assert not pv.all_closed


def test_an_unknown_package_is_not_found(pv):
    with pytest.raises(NotFound) as exc:
        pv.scan(3, "MUG")
    assert exc.value.code == "package_not_found"


def test_a_unit_can_be_taken_back_out_of_an_open_package(pv):
    pv.scan(1, "BOOK")
    assert pv.unscan(1, "BOOK") == "BOOK"
    assert pv.missing(1) == {"MUG": 1, "BOOK": 2}
    with pytest.raises(InvalidInput):
        pv.unscan(1, "BOOK")


def test_state_can_be_restored_from_saved_scans(pv):
    restored = PackVerification({1: ["MUG", "BOOK", "BOOK"], 2: ["LAMP"]}, scanned={1: ["BOOK", "MUG"]}, closed=[2])
    assert restored.missing(1) == {"BOOK": 1}
    assert 2 in restored.closed


def test_bad_weights_and_tolerances_are_refused(pv):
    pv.scan(2, "LAMP")
    with pytest.raises(InvalidInput):
        pv.close(2, measured_weight_g=-1)
    with pytest.raises(InvalidInput):
        pv.close(2, tolerance_pct=-1)


def test_from_a_packing_plan_every_package_is_scanned_and_closed_at_its_weight():
    box = Box("SMALL", 200, 150, 100, 5_000, 100, Decimal("0.40"))
    books = [Item(str(i), "BOOK", 198, 129, 25, 300) for i in range(5)]  # 4 fit in SMALL, 100 mm high
    result = choose_boxes(books, [box])
    pv = PackVerification.from_result(result, barcodes={"9780306406157": "BOOK"})
    assert len(result.packages) == 2
    for n, pb in enumerate(result.packages, 1):
        for _ in pb.items:
            pv.scan(n, "9780306406157")
        with pytest.raises(ExtraItem):
            pv.scan(n, "BOOK")
        assert pv.close(n, measured_weight_g=pb.weight_g).weight_ok
    assert pv.all_closed
