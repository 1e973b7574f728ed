"""Stock, reservations and backorders under any sequence of receipts, orders, cancellations,
adjustments, transfers and payments, on SQLite and on PostgreSQL.

After every step the database must agree with itself (levels = ledger, reserved = allocations of
open orders, nothing negative), with the order rules (status from payment and stock), with the
backorder promise (first come, first served; nobody waits beside stock they could have) and with a
model of the business kept here in plain dicts. Refused operations must leave no trace.

New orders and backorder fills are planned in the model by the routing scorer itself
(oms.routing.scoring, proven against exhaustive search in tests/unit/test_routing_scoring.py);
every warehouse here shares one address, so distance ties and the channel's order decides among
equally few shipments."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from oms.auth.rules import ROLE_SCOPES, Role
from oms.auth.service import Principal
from oms.catalog.schemas import ProductCreate
from oms.catalog.service import create_product
from oms.channels.schemas import ChannelCreate
from oms.channels.service import create_channel
from oms.db import Database
from oms.db.base import Base
from oms.errors import Conflict, InsufficientStock, InvalidTransition
from oms.inventory import service as inventory
from oms.inventory import warehouses
from oms.inventory.model import StockLevel
from oms.inventory.schemas import (
    AdjustmentCreate,
    ReceiptCreate,
    ReceiptLine,
    StockChangeOut,
    TransferCreate,
    TransferLine,
    WarehouseCreate,
)
from oms.inventory.stock import ledger_sums
from oms.orders import service as orders
from oms.orders.model import Allocation, Order, OrderLine
from oms.orders.rules import OPEN_STATUSES, derive_status
from oms.orders.schemas import OrderCreate, PaymentCreate
from oms.routing.rules import LineRequest
from oms.routing.scoring import Candidate, plan_by_cost
from tests.conftest import truncate_all
from tests.factories import order_body

WAREHOUSES = ("W1", "W2", "W3")
# Two channels so that "a waiting line that could use that warehouse" is not every line.
CHANNELS = {"web": ("W1", "W2", "W3"), "shop": ("W3", "W2")}
ALLOW_BACKORDER = {"STRICT-1": False, "STRICT-2": False, "BACK-1": True, "BACK-2": True}
SKUS = tuple(ALLOW_BACKORDER)
PRICE = Decimal("12.50")
CENT = Decimal("0.01")
ACTOR = Principal(user_id=0, email="stateful@example.com", role=Role.ADMIN.value, scopes=ROLE_SCOPES[Role.ADMIN])

Key = tuple[str, str]  # (sku, warehouse code) in the model


# -- the model -----------------------------------------------------------------------------------


@dataclass
class LineModel:
    id: int
    order_id: int
    sku: str
    quantity: int
    channel: str
    allocations: dict[str, int] = field(default_factory=dict)  # warehouse code -> quantity

    @property
    def reserved(self) -> int:
        return sum(self.allocations.values())


@dataclass
class OrderModel:
    id: int
    channel: str
    total: Decimal
    authorized: Decimal = Decimal(0)
    paid: Decimal = Decimal(0)
    cancelled: bool = False
    voided: bool = False
    line_ids: list[int] = field(default_factory=list)

    @property
    def payment_status(self) -> str:
        if self.voided:
            return "voided"
        if self.paid >= self.total:
            return "paid"
        if self.authorized + self.paid >= self.total:
            return "authorized"
        return "partially_paid" if self.paid > 0 else "pending"


def plan_order(
    lines: list[tuple[str, int]], warehouses: tuple[str, ...], available: dict[Key, int]
) -> list[tuple[dict[str, int], int]]:
    """Per line: (allocations by warehouse, quantity short), as the routing scorer plans an order."""
    pid = {sku: i for i, sku in enumerate(SKUS)}
    wid = {w: i for i, w in enumerate(WAREHOUSES)}
    here = (40.72, -74.13)  # every warehouse of this test has the same address
    candidates = [Candidate(wid[w], w, *here, "warehouse", rank) for rank, w in enumerate(warehouses)]
    result = plan_by_cost(
        [LineRequest(n, pid[sku], q) for n, (sku, q) in enumerate(lines, 1)],
        candidates,
        {(pid[sku], wid[w]): q for (sku, w), q in available.items()},
        (40.69, -73.99),
    )
    out: list[tuple[dict[str, int], int]] = []
    for n in range(1, len(lines) + 1):
        taken: dict[str, int] = {}
        for p in result.picks:
            if p.line_no == n:
                taken[WAREHOUSES[p.warehouse_id]] = taken.get(WAREHOUSES[p.warehouse_id], 0) + p.quantity
        out.append((taken, result.short.get(n, 0)))
    return out


# -- what the database holds ---------------------------------------------------------------------


@dataclass(frozen=True)
class LineRow:
    order_id: int
    product_id: int
    quantity: int
    reserved: int
    backordered: int


@dataclass(frozen=True)
class OrderRow:
    channel_id: int
    status: str
    payment_status: str
    authorized: Decimal
    paid: Decimal


@dataclass(frozen=True)
class Snapshot:
    levels: dict[tuple[int, int], tuple[int, int]]  # (product_id, warehouse_id) -> (on_hand, reserved)
    ledger: dict[tuple[int, int], tuple[int, int]]
    lines: dict[int, LineRow]
    allocations: dict[tuple[int, int], int]  # (line_id, warehouse_id) -> quantity
    allocation_orders: dict[tuple[int, int], tuple[int, int]]  # (line_id, warehouse_id) -> (order_id, product_id)
    orders: dict[int, OrderRow]
    row_counts: dict[str, int]


def read_snapshot(db: Database, with_counts: bool = False) -> Snapshot:
    with db.read() as session:
        levels = {
            (p, w): (oh, r)
            for p, w, oh, r in session.execute(
                select(StockLevel.product_id, StockLevel.warehouse_id, StockLevel.on_hand, StockLevel.reserved)
            )
        }
        ledger = {k: (v.on_hand, v.reserved) for k, v in ledger_sums(session).items()}
        lines = {
            i: LineRow(o, p, q, r, b)
            for i, o, p, q, r, b in session.execute(
                select(
                    OrderLine.id,
                    OrderLine.order_id,
                    OrderLine.product_id,
                    OrderLine.quantity,
                    OrderLine.reserved,
                    OrderLine.backordered,
                )
            )
        }
        allocations: dict[tuple[int, int], int] = {}
        allocation_orders: dict[tuple[int, int], tuple[int, int]] = {}
        for line_id, wid, order_id, pid, q in session.execute(
            select(
                Allocation.order_line_id,
                Allocation.warehouse_id,
                Allocation.order_id,
                Allocation.product_id,
                Allocation.quantity,
            )
        ):
            allocations[(line_id, wid)] = q
            allocation_orders[(line_id, wid)] = (order_id, pid)
        orders_ = {
            i: OrderRow(c, s, ps, a, pd)
            for i, c, s, ps, a, pd in session.execute(
                select(
                    Order.id,
                    Order.channel_id,
                    Order.status,
                    Order.payment_status,
                    Order.authorized_amount,
                    Order.paid_amount,
                )
            )
        }
        counts: dict[str, int] = {}
        if with_counts:  # one round trip for every table
            tables = Base.metadata.sorted_tables
            row = session.execute(
                select(*(select(func.count()).select_from(t).scalar_subquery().label(t.name) for t in tables))
            ).one()
            counts = dict(zip((t.name for t in tables), row, strict=True))
    return Snapshot(levels, ledger, lines, allocations, allocation_orders, orders_, counts)


# -- the machine ---------------------------------------------------------------------------------


class StockMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db
        truncate_all(db)
        self.wid: dict[str, int] = {}
        for code in WAREHOUSES:
            self.wid[code] = warehouses.create_warehouse(
                db,
                WarehouseCreate(
                    code=code,
                    name=f"Warehouse {code}",
                    address={"line1": "1 Dock Road", "city": "Newark", "postal_code": "07105", "country": "US"},
                ),
            ).id
        self.code_of = {i: c for c, i in self.wid.items()}
        self.channel_of: dict[int, str] = {}
        for code, listed in CHANNELS.items():
            channel = create_channel(
                db, ChannelCreate(code=code, name=f"Channel {code}", kind="web", warehouses=listed)
            )
            self.channel_of[channel.id] = code
        self.pid: dict[str, int] = {}
        for sku, backorder in ALLOW_BACKORDER.items():
            self.pid[sku] = create_product(
                db,
                ProductCreate(
                    sku=sku,
                    name=f"Product {sku}",
                    price=PRICE,
                    weight_g=500,
                    length_mm=200,
                    width_mm=100,
                    height_mm=50,
                    allow_backorder=backorder,
                    reorder_point=1 if sku == "STRICT-1" else None,
                ),
            ).id
        self.sku_of = {i: s for s, i in self.pid.items()}

        self.on_hand: dict[Key, int] = defaultdict(int)
        self.model_orders: dict[int, OrderModel] = {}
        self.model_lines: dict[int, LineModel] = {}
        self.previous: Snapshot | None = None

    # -- model helpers ---------------------------------------------------------------------------

    def reserved(self) -> dict[Key, int]:
        totals: dict[Key, int] = defaultdict(int)
        for line in self.model_lines.values():
            for w, q in line.allocations.items():
                totals[(line.sku, w)] += q
        return totals

    def available(self) -> dict[Key, int]:
        reserved = self.reserved()
        return {(s, w): self.on_hand[(s, w)] - reserved[(s, w)] for s in SKUS for w in WAREHOUSES}

    def backordered(self, line: LineModel) -> int:
        return 0 if self.model_orders[line.order_id].cancelled else line.quantity - line.reserved

    def fill_backorders(self, skus: set[str]) -> dict[int, int]:
        """The oldest waiting line first takes what its channel's warehouses have."""
        filled: dict[int, int] = {}
        for line_id in sorted(self.model_lines):
            line = self.model_lines[line_id]
            waiting = self.backordered(line)
            if line.sku not in skus or waiting == 0:
                continue
            [(taken, _)] = plan_order([(line.sku, waiting)], CHANNELS[line.channel], self.available())
            for w, q in taken.items():
                line.allocations[w] = line.allocations.get(w, 0) + q
            if taken:
                filled[line_id] = sum(taken.values())
        return filled

    def assert_refused(self, error: type[Exception], call: Any) -> None:
        before = read_snapshot(self.db, with_counts=True)
        with pytest.raises(error):
            call()
        assert read_snapshot(self.db, with_counts=True) == before, "a refused operation changed the database"

    @staticmethod
    def assert_fills(out: StockChangeOut, expected: dict[int, int]) -> None:
        reported = {f.order_line_id: f.quantity for f in out.backorders_filled}
        assert reported == expected, f"backorders filled {reported}, the model expected {expected}"

    # -- rules -----------------------------------------------------------------------------------

    @rule(
        warehouse=st.sampled_from(WAREHOUSES),
        lines=st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 8)), min_size=1, max_size=2),
    )
    def receive(self, warehouse: str, lines: list[tuple[str, int]]) -> None:
        out = inventory.receive(
            self.db,
            ReceiptCreate(
                warehouse=warehouse, reference="PO-1", lines=[ReceiptLine(sku=s, quantity=q) for s, q in lines]
            ),
            ACTOR,
        )
        for sku, quantity in lines:
            self.on_hand[(sku, warehouse)] += quantity
        self.assert_fills(out, self.fill_backorders({s for s, _ in lines}))

    @rule(
        target=orders,
        channel=st.sampled_from(sorted(CHANNELS)),
        lines=st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 3)), min_size=1, max_size=3),
        payment=st.sampled_from(["none", "pending", "authorized", "paid", "part_paid"]),
    )
    def order(self, channel: str, lines: list[tuple[str, int]], payment: str) -> Any:
        total = PRICE * sum(q for _, q in lines)
        amounts = {"none": None, "pending": total, "authorized": total, "paid": total, "part_paid": total / 2}
        body = order_body(lines, channel, price=str(PRICE))
        body["payment"] = (
            None if payment == "none" else {"status": payment.removeprefix("part_"), "amount": str(amounts[payment])}
        )
        data = OrderCreate.model_validate(body)
        planned = plan_order(lines, CHANNELS[channel], self.available())
        if any(short and not ALLOW_BACKORDER[sku] for (sku, _), (_, short) in zip(lines, planned, strict=True)):
            self.assert_refused(InsufficientStock, lambda: orders.create_order(self.db, data, ACTOR))
            return multiple()

        out, created = orders.create_order(self.db, data, ACTOR)
        assert created
        model = OrderModel(out.id, channel, total)
        if payment == "authorized":
            model.authorized = total
        elif payment in ("paid", "part_paid"):
            model.paid = amounts[payment]  # type: ignore[assignment]
        for line_out, (sku, quantity), (taken, _) in zip(out.lines, lines, planned, strict=True):
            assert (line_out.sku, line_out.quantity) == (sku, quantity)
            self.model_lines[line_out.id] = LineModel(line_out.id, out.id, sku, quantity, channel, dict(taken))
            model.line_ids.append(line_out.id)
        self.model_orders[out.id] = model
        return out.id

    @rule(order_id=orders, reason=st.sampled_from([None, "customer changed their mind"]))
    def cancel(self, order_id: int, reason: str | None) -> None:
        model = self.model_orders[order_id]
        if model.cancelled:
            self.assert_refused(InvalidTransition, lambda: orders.cancel_order(self.db, order_id, ACTOR, reason))
            return
        out = orders.cancel_order(self.db, order_id, ACTOR, reason)
        assert out.status == "cancelled"
        # Cancelling releases any authorisation; captured money stays recorded (a refund is due).
        if model.authorized > 0 and model.paid == 0:
            model.voided = True
        model.authorized = Decimal(0)
        model.cancelled = True
        released = set()
        for line_id in model.line_ids:
            line = self.model_lines[line_id]
            if line.allocations:
                released.add(line.sku)
            line.allocations.clear()
        # Released stock is stock arriving for whoever waits for it.
        self.fill_backorders(released)

    @rule(
        warehouse=st.sampled_from(WAREHOUSES),
        sku=st.sampled_from(SKUS),
        delta=st.one_of(st.integers(-4, -1), st.integers(1, 4)),
    )
    def adjust(self, warehouse: str, sku: str, delta: int) -> None:
        data = AdjustmentCreate(warehouse=warehouse, sku=sku, delta=delta, reason="stock count")
        if delta < 0 and -delta > self.available()[(sku, warehouse)]:
            self.assert_refused(InsufficientStock, lambda: inventory.adjust(self.db, data, ACTOR))
            return
        out = inventory.adjust(self.db, data, ACTOR)
        self.on_hand[(sku, warehouse)] += delta
        self.assert_fills(out, self.fill_backorders({sku}) if delta > 0 else {})

    @rule(
        route=st.permutations(WAREHOUSES).map(lambda ws: ws[:2]),
        lines=st.lists(st.tuples(st.sampled_from(SKUS), st.integers(1, 3)), min_size=1, max_size=2),
    )
    def transfer(self, route: tuple[str, str], lines: list[tuple[str, int]]) -> None:
        src, dst = route
        data = TransferCreate(
            from_warehouse=src, to_warehouse=dst, lines=[TransferLine(sku=s, quantity=q) for s, q in lines]
        )
        moving: dict[str, int] = defaultdict(int)
        for sku, quantity in lines:
            moving[sku] += quantity
        available = self.available()
        if any(q > available[(sku, src)] for sku, q in moving.items()):
            self.assert_refused(InsufficientStock, lambda: inventory.transfer(self.db, data, ACTOR))
            return
        out = inventory.transfer(self.db, data, ACTOR)
        for sku, quantity in moving.items():
            self.on_hand[(sku, src)] -= quantity
            self.on_hand[(sku, dst)] += quantity
        self.assert_fills(out, self.fill_backorders(set(moving)))

    @rule(
        order_id=orders,
        kind=st.sampled_from(["capture_rest", "capture_part", "authorize_rest", "authorize_part", "overpay"]),
    )
    def pay(self, order_id: int, kind: str) -> None:
        model = self.model_orders[order_id]
        status = "authorized" if kind.startswith("authorize") else "paid"
        room = model.total - model.paid - (model.authorized if status == "authorized" else 0)
        amount = {
            "capture_rest": room,
            "authorize_rest": room,
            "capture_part": (room / 2).quantize(CENT),
            "authorize_part": (room / 2).quantize(CENT),
            "overpay": room + CENT,
        }[kind]
        if amount <= 0:  # nothing left to pay: ask for a cent more, which must be refused
            amount = CENT
        data = PaymentCreate(status=status, amount=amount)
        call = lambda: orders.record_payment(self.db, order_id, data, ACTOR)  # noqa: E731
        if model.cancelled:
            self.assert_refused(InvalidTransition, call)
            return
        if amount > room:
            self.assert_refused(Conflict, call)
            return
        call()
        if status == "authorized":
            model.authorized += amount
        else:
            model.authorized = max(model.authorized - amount, Decimal(0))
            model.paid += amount

    # -- invariants ------------------------------------------------------------------------------

    @invariant()
    def the_database_keeps_every_promise(self) -> None:
        now = read_snapshot(self.db)
        self.check_stock_is_never_negative(now)
        self.check_levels_equal_the_ledger(now)
        self.check_reservations_equal_the_allocations_of_open_orders(now)
        self.check_open_orders_have_the_status_their_payment_and_stock_give_them(now)
        if self.previous is not None:
            self.check_backorders_are_filled_first_come_first_served(self.previous, now)
        self.check_no_line_waits_beside_stock_it_could_use(now)
        self.check_the_database_agrees_with_the_model(now)
        self.previous = now

    def check_stock_is_never_negative(self, now: Snapshot) -> None:
        for key, (on_hand, reserved) in now.levels.items():
            assert reserved >= 0, f"reserved is negative at {key}: {reserved}"
            assert on_hand - reserved >= 0, f"available is negative at {key}: {on_hand} on hand, {reserved} reserved"

    def check_levels_equal_the_ledger(self, now: Snapshot) -> None:
        # A level row may exist at zero before any movement (created to be locked): same as no row.
        levels = {k: v for k, v in now.levels.items() if v != (0, 0)}
        ledger = {k: v for k, v in now.ledger.items() if v != (0, 0)}
        assert levels == ledger, f"levels {now.levels} differ from the ledger's sums {now.ledger}"

    def check_reservations_equal_the_allocations_of_open_orders(self, now: Snapshot) -> None:
        by_key: dict[tuple[int, int], int] = defaultdict(int)
        by_line: dict[int, int] = defaultdict(int)
        for (line_id, wid), quantity in now.allocations.items():
            order_id, pid = now.allocation_orders[(line_id, wid)]
            order = now.orders[order_id]
            assert order.status != "cancelled", f"cancelled order {order_id} still holds stock"
            assert now.lines[line_id].order_id == order_id and now.lines[line_id].product_id == pid
            assert self.code_of[wid] in CHANNELS[self.channel_of[order.channel_id]], (
                f"line {line_id} holds stock in {self.code_of[wid]}, which its channel does not list"
            )
            assert quantity > 0
            by_key[(pid, wid)] += quantity
            by_line[line_id] += quantity
        for key, (_, reserved) in now.levels.items():
            assert reserved == by_key.get(key, 0), (
                f"{key} has {reserved} reserved but open orders hold {by_key.get(key, 0)}"
            )
        assert set(by_key) <= set(now.levels)
        for line_id, line in now.lines.items():
            assert line.reserved == by_line.get(line_id, 0), f"line {line_id} says {line.reserved} reserved"
            if now.orders[line.order_id].status == "cancelled":
                assert (line.reserved, line.backordered) == (0, 0), f"cancelled line {line_id}: {line}"
            else:
                assert line.reserved + line.backordered == line.quantity, f"line {line_id}: {line}"
                assert line.backordered >= 0

    def check_open_orders_have_the_status_their_payment_and_stock_give_them(self, now: Snapshot) -> None:
        waiting: dict[int, int] = defaultdict(int)
        for line in now.lines.values():
            waiting[line.order_id] += line.backordered
        for order_id, order in now.orders.items():
            if order.status == "cancelled":
                continue
            assert order.status in OPEN_STATUSES, f"order {order_id} is {order.status}"
            expected = derive_status(order.payment_status, waiting[order_id])
            assert order.status == expected, (
                f"order {order_id} is {order.status}; payment {order.payment_status} with "
                f"{waiting[order_id]} backordered makes it {expected}"
            )

    def check_the_database_agrees_with_the_model(self, now: Snapshot) -> None:
        reserved = self.reserved()
        for sku in SKUS:
            for w in WAREHOUSES:
                level = now.levels.get((self.pid[sku], self.wid[w]), (0, 0))
                expected = (self.on_hand[(sku, w)], reserved[(sku, w)])
                assert level == expected, f"{sku} in {w}: database (on_hand, reserved) {level}, model {expected}"
        assert set(now.orders) == set(self.model_orders)
        for order_id, model in self.model_orders.items():
            row = now.orders[order_id]
            assert (row.status == "cancelled") == model.cancelled, f"order {order_id} is {row.status}"
            assert (row.payment_status, row.authorized, row.paid) == (
                model.payment_status,
                model.authorized,
                model.paid,
            ), f"order {order_id}: database {row}, model {model}"
        assert set(now.lines) == set(self.model_lines)
        for line_id, line in self.model_lines.items():
            row = now.lines[line_id]
            expected = (self.pid[line.sku], line.quantity, line.reserved, self.backordered(line))
            assert (row.product_id, row.quantity, row.reserved, row.backordered) == expected, (
                f"line {line_id} ({line.sku} in order {line.order_id}): database {row}, model {expected}"
            )
        model_allocations = {
            (line_id, self.wid[w]): q for line_id, line in self.model_lines.items() for w, q in line.allocations.items()
        }
        assert now.allocations == model_allocations

    def check_backorders_are_filled_first_come_first_served(self, before: Snapshot, now: Snapshot) -> None:
        """No line got stock in this step from a warehouse that an earlier, still waiting line of the
        same product could have used."""
        for (line_id, wid), quantity in now.allocations.items():
            gained = quantity - before.allocations.get((line_id, wid), 0)
            if gained <= 0:
                continue
            line = now.lines[line_id]
            for earlier_id, earlier in now.lines.items():
                if earlier_id >= line_id or earlier.product_id != line.product_id or earlier.backordered == 0:
                    continue
                channel = self.channel_of[now.orders[earlier.order_id].channel_id]
                assert self.code_of[wid] not in CHANNELS[channel], (
                    f"line {line_id} (order {line.order_id}) got {gained} x {self.sku_of[line.product_id]} from "
                    f"{self.code_of[wid]} while earlier line {earlier_id} (order {earlier.order_id}, channel "
                    f"{channel}) still waits for {earlier.backordered}"
                )

    def check_no_line_waits_beside_stock_it_could_use(self, now: Snapshot) -> None:
        for line_id, line in now.lines.items():
            if line.backordered == 0:
                continue
            channel = self.channel_of[now.orders[line.order_id].channel_id]
            for w in CHANNELS[channel]:
                on_hand, reserved = now.levels.get((line.product_id, self.wid[w]), (0, 0))
                assert on_hand - reserved == 0, (
                    f"line {line_id} (order {line.order_id}) waits for {line.backordered} x "
                    f"{self.sku_of[line.product_id]} while {w}, listed by its channel {channel}, "
                    f"has {on_hand - reserved} available"
                )


SETTINGS = hypothesis_settings(
    max_examples=25,
    stateful_step_count=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_stock_reservations_and_backorders_stay_consistent_whatever_happens(db: Database) -> None:
    run_state_machine_as_test(lambda: StockMachine(db), settings=SETTINGS)
