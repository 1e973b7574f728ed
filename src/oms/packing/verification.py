"""Pack verification: each unit is scanned into its package, and a package closes only when it holds
exactly what the packing plan put in it. Pure state: the service layer stores the scans and
rebuilds this from them (``scanned=`` / ``closed=``), or replays them through ``scan``.

Units of one SKU are interchangeable, so a package expects counts per SKU, not particular units.
A scan names a SKU or a barcode (GTIN); barcodes are compared as GTIN-14, so a scanner that reads
a UPC-A as EAN-13 (a leading zero more) still matches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from oms.errors import Conflict, InvalidInput, NotFound
from oms.packing.cartons import PackResult


class WrongItem(InvalidInput):
    """The scanned item does not belong in this package (another package's, or not in the shipment)."""

    code = "wrong_item"


class ExtraItem(Conflict):
    """The item belongs in this package, but every unit of it is already scanned in."""

    code = "extra_item"


class ItemsMissing(Conflict):
    """The package cannot be closed: some of its items are not scanned in yet."""

    code = "items_missing"


class PackageClosed(Conflict):
    code = "package_closed"


@dataclass(frozen=True)
class ScanRecord:
    """One scan, accepted or not: every scan is kept, for the record and for replay."""

    package_no: int
    code: str  # as scanned
    sku: str | None  # what it resolved to, when it resolved
    accepted: bool
    error: str | None = None  # the refusal's error code


@dataclass(frozen=True)
class CloseOutcome:
    package_no: int
    expected_weight_g: int | None
    measured_weight_g: int | None
    # A measured weight outside the tolerance is flagged here, not refused: scales drift and
    # catalogue weights are estimates; a person decides whether to open the package again.
    warnings: tuple[str, ...]

    @property
    def weight_ok(self) -> bool:
        return not self.warnings


def _gtin_key(code: str) -> str:
    return code.zfill(14) if code.isdigit() and 8 <= len(code) <= 14 else code


def _list(counts: Mapping[str, int]) -> str:
    return ", ".join(sku if n == 1 else f"{sku} × {n}" for sku, n in counts.items() if n > 0) or "nothing"


class PackVerification:
    """The scan state of one shipment's packages, numbered from 1 as in the packing plan."""

    def __init__(
        self,
        expected: Mapping[int, Iterable[str]],
        barcodes: Mapping[str, str] | None = None,
        expected_weight_g: Mapping[int, int] | None = None,
        scanned: Mapping[int, Iterable[str]] | None = None,
        closed: Iterable[int] = (),
    ) -> None:
        """``expected``: package number -> the SKU of each unit in it (a SKU once per unit).
        ``barcodes``: barcode -> SKU. ``expected_weight_g``: package number -> gross weight.
        ``scanned`` and ``closed`` restore a state saved earlier."""
        self.expected: dict[int, Counter[str]] = {n: Counter(skus) for n, skus in expected.items()}
        self.scanned: dict[int, Counter[str]] = {n: Counter() for n in self.expected}
        self.barcodes = {_gtin_key(code.strip()): sku for code, sku in (barcodes or {}).items()}
        self.expected_weight_g = dict(expected_weight_g or {})
        self.closed: set[int] = set()
        self.log: list[ScanRecord] = []
        for n, skus in (scanned or {}).items():
            self._package(n)
            self.scanned[n].update(skus)
        for n in closed:
            self._package(n)
            self.closed.add(n)

    @classmethod
    def from_result(cls, result: PackResult, barcodes: Mapping[str, str] | None = None) -> PackVerification:
        """Expect what ``choose_boxes`` put in each package, weighing what it computed."""
        return cls(
            {n: [i.sku for i in pb.items] for n, pb in enumerate(result.packages, 1)},
            barcodes,
            {n: pb.weight_g for n, pb in enumerate(result.packages, 1)},
        )

    # --- queries ---

    def missing(self, package_no: int) -> dict[str, int]:
        """SKU -> units still to scan into the package."""
        want, have = self.expected[self._package(package_no)], self.scanned[package_no]
        return {sku: n - have[sku] for sku, n in want.items() if n > have[sku]}

    def is_complete(self, package_no: int) -> bool:
        return not self.missing(package_no)

    @property
    def all_closed(self) -> bool:
        return self.closed == set(self.expected)

    # --- commands ---

    def scan(self, package_no: int, sku_or_barcode: str) -> str:
        """Accept one unit into the package and return its SKU, or refuse it: ``WrongItem`` when it
        does not belong in this package, ``ExtraItem`` when all its units are already in. Either way
        the scan is logged."""
        self._package(package_no)
        code = sku_or_barcode.strip()
        sku = self._resolve(code)
        try:
            self._check_open(package_no)
            want = self.expected[package_no]
            if sku is None or sku not in want:
                raise self._wrong(package_no, code, sku)
            if self.scanned[package_no][sku] >= want[sku]:
                raise ExtraItem(
                    f"{sku}: all {want[sku]} for package {package_no} are already scanned in; "
                    f"package {package_no} still needs {_list(self.missing(package_no))}",
                    package_no=package_no,
                    sku=sku,
                    expected=self.missing(package_no),
                )
        except (WrongItem, ExtraItem, PackageClosed) as exc:
            self.log.append(ScanRecord(package_no, code, sku, False, exc.code))
            raise
        self.scanned[package_no][sku] += 1
        self.log.append(ScanRecord(package_no, code, sku, True))
        return sku

    def unscan(self, package_no: int, sku_or_barcode: str) -> str:
        """Take one scanned unit back out of an open package (the packer changed their mind)."""
        self._package(package_no)
        self._check_open(package_no)
        code = sku_or_barcode.strip()
        sku = self._resolve(code)
        if sku is None or self.scanned[package_no][sku] == 0:
            raise InvalidInput(
                f"{code} is not scanned into package {package_no}", code="not_scanned", package_no=package_no
            )
        self.scanned[package_no][sku] -= 1
        return sku

    def close(self, package_no: int, measured_weight_g: int | None = None, tolerance_pct: float = 5) -> CloseOutcome:
        """Close the package: refused (``ItemsMissing``) while any unit is not scanned in. A measured
        weight further than ``tolerance_pct`` from the expected one comes back as a warning."""
        self._package(package_no)
        self._check_open(package_no)
        if tolerance_pct < 0:
            raise InvalidInput("the weight tolerance cannot be negative", code="invalid_tolerance")
        if measured_weight_g is not None and measured_weight_g < 0:
            raise InvalidInput("a measured weight cannot be negative", code="invalid_weight")
        missing = self.missing(package_no)
        if missing:
            raise ItemsMissing(
                f"package {package_no} cannot be closed: still missing {_list(missing)}",
                package_no=package_no,
                missing=missing,
            )
        expected = self.expected_weight_g.get(package_no)
        warnings: list[str] = []
        if measured_weight_g is not None and expected:
            off = (measured_weight_g - expected) / expected * 100
            if abs(off) > tolerance_pct:
                warnings.append(
                    f"package {package_no} weighs {measured_weight_g} g, {abs(off):.1f}% "
                    f"{'over' if off > 0 else 'under'} the expected {expected} g (tolerance {tolerance_pct:g}%): "
                    "check its contents"
                )
        self.closed.add(package_no)
        return CloseOutcome(package_no, expected, measured_weight_g, tuple(warnings))

    # --- helpers ---

    def _package(self, package_no: int) -> int:
        if package_no not in self.expected:
            raise NotFound(
                f"there is no package {package_no} (packages: {', '.join(map(str, sorted(self.expected)))})",
                code="package_not_found",
                package_no=package_no,
            )
        return package_no

    def _check_open(self, package_no: int) -> None:
        if package_no in self.closed:
            raise PackageClosed(f"package {package_no} is already closed", package_no=package_no)

    def _resolve(self, code: str) -> str | None:
        if any(code in want for want in self.expected.values()):
            return code
        return self.barcodes.get(_gtin_key(code))

    def _wrong(self, package_no: int, code: str, sku: str | None) -> WrongItem:
        needs = f"package {package_no} still needs {_list(self.missing(package_no))}"
        elsewhere = [n for n, want in sorted(self.expected.items()) if sku is not None and sku in want]
        if elsewhere:
            what = f"{sku} belongs in package {elsewhere[0]}, not package {package_no}"
        elif sku is not None:
            what = f"{sku} is not in this shipment"
        else:
            what = f"{code} is not an item of this shipment"
        return WrongItem(f"{what}; {needs}", package_no=package_no, scanned=code, expected=self.missing(package_no))
