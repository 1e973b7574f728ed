"""Returns at the warehouse: scanning the RMA and the items in, and inspecting each unit (restock
into a sellable bin through the ledger, quarantine, or write off)."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.catalog.model import Product
from oms.db import Database
from oms.db.base import utcnow
from oms.errors import InvalidInput, NotFound
from oms.inventory.model import Bin, BinStock, Warehouse
from oms.inventory.stock import Movement, MovementKind, apply
from oms.notifications.email import order_context, queue_email
from oms.orders.backorders import fill_backorders, lock_waiting_orders
from oms.returns import rules
from oms.returns.model import Return, ReturnInspection, ReturnLine
from oms.returns.rules import ReturnStatus as R
from oms.returns.schemas import InspectIn, ReceiveIn
from oms.returns.service import items_of, load, step

# --- receiving and inspecting ---------------------------------------------------------------------


def receive(db: Database, return_id: int, data: ReceiveIn, principal: Principal) -> None:
    """Scan the RMA and the items at the warehouse; what differs from the request is recorded."""
    if data.rma.strip().upper() != rules.rma_number(return_id):
        raise InvalidInput(f"the scanned RMA {data.rma!r} is not {rules.rma_number(return_id)}", code="wrong_rma")

    def use_case(session: Session) -> None:
        ret, order = load(session, return_id, lock=True)
        rules.check_transition(ret.status, R.RECEIVED, "receive")
        warehouse = session.scalar(select(Warehouse).where(Warehouse.code == data.warehouse))
        if warehouse is None:
            raise NotFound(f"no warehouse {data.warehouse!r}", code="unknown_warehouse")
        lines = session.scalars(select(ReturnLine).where(ReturnLine.return_id == ret.id).order_by(ReturnLine.id)).all()
        barcodes = dict(
            session.execute(
                select(Product.barcode, Product.sku).where(Product.id.in_([ln.product_id for ln in lines]))
            ).all()
        )
        counted: dict[str, int] = defaultdict(int)
        for item in data.items:
            sku = barcodes.get(item.item, item.item)
            if sku not in {ln.sku for ln in lines}:
                raise InvalidInput(f"{item.item} is not on return {rules.rma_number(ret.id)}", code="not_on_return")
            counted[sku] += item.quantity
        if not counted:
            raise InvalidInput(
                f"scan the items of {rules.rma_number(ret.id)} in; a parcel with none of them is not a receipt",
                code="nothing_scanned",
            )
        differences = []
        left = dict(counted)
        for ln in lines:  # a product on several lines fills them in order
            ln.received = min(left.get(ln.sku, 0), ln.quantity)
            left[ln.sku] = left.get(ln.sku, 0) - ln.received
            if ln.received != ln.quantity:
                differences.append(f"{ln.sku}: {ln.received} of {ln.quantity}")
        extra = {sku: n for sku, n in left.items() if n > 0}
        if extra:
            raise InvalidInput(
                "more scanned than the return asks for: "
                + ", ".join(f"{n} more x {sku}" for sku, n in sorted(extra.items())),
                code="too_many",
            )
        ret.warehouse_id = warehouse.id
        ret.received_at = utcnow()
        ret.note = ("received " + "; ".join(differences)) if differences else None
        message = f"Return {rules.rma_number(ret.id)} received at {warehouse.code}" + (
            f" ({ret.note})" if differences else ""
        )
        step(session, ret, R.RECEIVED, "receive", principal.actor, message, {"differences": differences})
        queue_email(
            session,
            kind="return_received",
            to=order.customer_email,
            context={
                "order": order_context(session, order.id),
                "rma": {"number": rules.rma_number(ret.id), "items": items_of(session, ret, "received")},
            },
            dedupe_key=f"return_received:{ret.id}",
            order_id=order.id,
        )

    db.run(use_case)


def inspect(db: Database, return_id: int, data: InspectIn, principal: Principal) -> None:
    """Grade each received unit and decide: restock into a sellable bin (a ledger row; waiting
    backorders fill from it), quarantine, or write off (ledger rows with the reason)."""

    def use_case(session: Session) -> None:
        # The orders waiting for these products and the return's own, all in id order, then the
        # return, then stock rows: the lock order of every writer.
        order_id = session.scalar(select(Return.order_id).where(Return.id == return_id))
        if order_id is None:
            raise NotFound(f"no return {return_id}", code="return_not_found")
        product_ids = sorted(
            set(session.scalars(select(ReturnLine.product_id).where(ReturnLine.return_id == return_id)))
        )
        lock_waiting_orders(session, product_ids, order_id)
        ret, order = load(session, return_id, lock=True)
        rules.check_transition(ret.status, R.INSPECTED, "inspect")
        all_lines = list(
            session.scalars(select(ReturnLine).where(ReturnLine.return_id == ret.id).order_by(ReturnLine.id))
        )
        lines: dict[str, list[ReturnLine]] = defaultdict(list)
        for line in all_lines:
            lines[line.sku].append(line)
        per_sku: dict[str, int] = defaultdict(int)
        for unit in data.units:
            if unit.sku not in lines:
                raise InvalidInput(f"{unit.sku} is not on return {rules.rma_number(ret.id)}", code="not_on_return")
            per_sku[unit.sku] += 1
        for sku, of_sku in lines.items():
            received = sum(ln.received for ln in of_sku)
            if per_sku.get(sku, 0) != received:
                raise InvalidInput(
                    f"{received} x {sku} were received; inspect each of them once ({per_sku.get(sku, 0)} given)",
                    code="inspection_incomplete",
                )
        assert ret.warehouse_id is not None
        movements: list[Movement] = []
        reference = rules.rma_number(ret.id)
        for unit in data.units:
            # A product on several lines: each unit goes to the first line with a received unit left.
            ln = next(x for x in lines[unit.sku] if x.restocked + x.quarantined + x.written_off < x.received)
            disposition = unit.disposition or rules.default_disposition(unit.grade)
            bin_id = (
                _restock_bin(session, ret.warehouse_id, ln.product_id, unit.bin)
                if disposition == rules.Disposition.RESTOCK
                else None
            )
            kind = {
                rules.Disposition.RESTOCK: MovementKind.RETURN,
                rules.Disposition.QUARANTINE: MovementKind.QUARANTINE,
                rules.Disposition.WRITE_OFF: MovementKind.WRITE_OFF,
            }[disposition]
            movements.append(
                Movement(
                    ln.product_id,
                    ret.warehouse_id,
                    kind,
                    principal.actor,
                    delta_on_hand=1 if disposition == rules.Disposition.RESTOCK else 0,
                    reason=f"returned {unit.grade.value}" + (f": {unit.note}" if unit.note else ""),
                    reference=reference,
                    order_id=order.id,
                    bin_id=bin_id,
                )
            )
            field = {"restock": "restocked", "quarantine": "quarantined", "write_off": "written_off"}[disposition.value]
            setattr(ln, field, getattr(ln, field) + 1)
            session.add(
                ReturnInspection(
                    return_line_id=ln.id,
                    grade=unit.grade.value,
                    disposition=disposition.value,
                    bin_id=bin_id,
                    note=unit.note,
                    actor=principal.actor,
                    created_at=utcnow(),
                )
            )
        apply(session, movements)
        restocked = sorted({m.product_id for m in movements if m.delta_on_hand > 0})
        filled = fill_backorders(session, restocked, principal.actor) if restocked else []
        counts = {d: sum(getattr(ln, d) for ln in all_lines) for d in ("restocked", "quarantined", "written_off")}
        message = f"Return {reference} inspected: " + ", ".join(
            f"{n} {what.replace('_', ' ')}" for what, n in counts.items()
        )
        step(
            session, ret, R.INSPECTED, "inspect", principal.actor, message, {**counts, "backorders_filled": len(filled)}
        )

    db.run(use_case)


def _restock_bin(session: Session, warehouse_id: int, product_id: int, code: str | None) -> int | None:
    """The bin named, or the bin that already holds most of the product (none: loose stock)."""
    if code is not None:
        found = session.scalar(select(Bin.id).where(Bin.warehouse_id == warehouse_id, Bin.code == code))
        if found is None:
            raise InvalidInput(f"no bin {code!r} in this warehouse", code="unknown_bin")
        return found
    return session.scalar(
        select(BinStock.bin_id)
        .join(Bin, Bin.id == BinStock.bin_id)
        .where(Bin.warehouse_id == warehouse_id, BinStock.product_id == product_id)
        .order_by(BinStock.quantity.desc(), BinStock.bin_id)
        .limit(1)
    )
