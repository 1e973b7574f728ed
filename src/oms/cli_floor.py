"""``oms routing``, ``oms picking`` and ``oms packing``: the warehouse floor from a terminal.

The same services the API calls. A command that changes something acts as a named user
(``--as EMAIL``) with that user's role: the timeline and the scan log say who did it, and a
picker cannot pack or re-route here any more than through the API."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel
from rich.table import Table

T = TypeVar("T")

routing_app = typer.Typer(help="Where orders ship from, and why.", no_args_is_help=True)
picking_app = typer.Typer(help="Pick lists, waves, scans and short picks.", no_args_is_help=True)
packing_app = typer.Typer(help="Boxes, packing plans, pack scans.", no_args_is_help=True)

AsUser = Annotated[str, typer.Option("--as", help="Email of the user doing this (their role decides).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _run(call: Callable[[Any], T]) -> T:
    """Open the database from the settings and run ``call(db)``; domain errors exit 1 with the reason."""
    from oms.cli import _database, _fail, _settings

    db = _database(_settings())
    try:
        return call(db)
    except Exception as exc:
        raise _fail(exc) from None
    finally:
        db.dispose()


def _input(model: type[T], **fields: Any) -> T:
    """A request model built from options; a mistake exits 2 with pydantic's reason."""
    from pydantic import ValidationError

    from oms.cli import err

    try:
        return model(**fields)  # type: ignore[call-arg]
    except ValidationError as exc:
        err.print(f"[red]invalid input:[/red] {exc.errors()[0]['msg']}")
        raise typer.Exit(2) from None


def _principal(db: Any, email: str, scope: str) -> Any:
    from oms.auth.rules import ROLE_SCOPES, Role
    from oms.auth.service import Principal, find_user
    from oms.errors import Forbidden

    with db.read() as session:
        user = find_user(session, email)
        principal = Principal(user.id, user.email, user.role, ROLE_SCOPES[Role(user.role)])
    if scope not in principal.scopes:
        raise Forbidden(f"{email} ({principal.role}) may not do this: it needs the scope {scope}")
    return principal


def _print(model: BaseModel, as_json: bool, table: Callable[[Any], Table | str]) -> None:
    from oms.cli import out

    if as_json:
        print(model.model_dump_json())
    else:
        out.print(table(model))


# -- routing --------------------------------------------------------------------------------------


@routing_app.command("show")
def routing_show(order_id: int, as_json: AsJson = False) -> None:
    """How an order's warehouses were chosen: every candidate, its distance and score, and why."""
    from oms.orders.reroute import read_routing

    routing = _run(lambda db: read_routing(db, order_id))
    if as_json:
        print(json.dumps(routing, default=str))
        return
    from oms.cli import out

    table = Table("warehouse", "kind", "km", "covers lines", "whole order", "score", title=routing["number"])
    for c in routing.get("candidates", []):
        table.add_row(
            c.get("code", ""),
            c.get("kind", ""),
            "" if c.get("distance_km") is None else f"{c['distance_km']:,.0f}",
            ", ".join(map(str, c.get("can_cover_lines", []))),
            "yes" if c.get("covers_whole_order") else "",
            f"{c.get('score', 0):,.1f}",
        )
    out.print(table)
    out.print(f"destination: {(routing.get('destination') or {}).get('detail', 'unknown')}")
    out.print(f"why: {routing.get('why', '')}")


@routing_app.command("reroute")
def routing_reroute(
    order_id: int,
    user: AsUser,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="A warehouse not to ship from.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why, for the timeline.")] = None,
) -> None:
    """Route an order again from today's stock (until picking starts)."""
    from oms.cli import out
    from oms.orders.reroute import reroute_order

    order = _run(lambda db: reroute_order(db, order_id, _principal(db, user, "orders:reroute"), exclude or [], reason))
    where = sorted({a.warehouse for line in order.lines for a in line.allocations})
    out.print(f"{order.number} is {order.status}, shipping from {', '.join(where) or 'nowhere yet'}")


# -- picking --------------------------------------------------------------------------------------


def _pick_list_table(pick_list: Any) -> Table:
    table = Table(
        "task", "bin", "sku", "name", "qty", "picked", "tote", "order", "status",
        title=f"pick list {pick_list.id} ({pick_list.kind}, {pick_list.warehouse}, {pick_list.status}): "
        f"{pick_list.path_length_m:.1f} m walk (S-shape {pick_list.s_shape_length_m:.1f} m)",
    )  # fmt: skip
    for t in pick_list.tasks:
        table.add_row(
            str(t.id), t.bin or "depot", t.sku, t.product_name, str(t.quantity), str(t.picked), t.tote,
            t.order_number, t.status,
        )  # fmt: skip
    return table


@picking_app.command("order")
def picking_order(order_id: int, user: AsUser, as_json: AsJson = False) -> None:
    """Pick lists for one confirmed order (one per warehouse that holds it)."""
    from oms.picking.service import create_order_pick_lists

    made = _run(lambda db: create_order_pick_lists(db, order_id, _principal(db, user, "picking:write")))
    if as_json:
        print(made.model_dump_json())
        return
    from oms.cli import out

    for pick_list in made.pick_lists:
        out.print(_pick_list_table(pick_list))


@picking_app.command("wave")
def picking_wave(
    warehouse: str,
    user: AsUser,
    max_orders: Annotated[int, typer.Option(min=1, max=100)] = 10,
    max_units: Annotated[int | None, typer.Option(min=1)] = None,
    as_json: AsJson = False,
) -> None:
    """A wave: ready orders of one warehouse picked in one walk, a tote each."""
    from oms.picking.schemas import WaveCreate
    from oms.picking.service import create_wave

    data = _input(WaveCreate, max_orders=max_orders, max_units=max_units)
    wave = _run(lambda db: create_wave(db, warehouse, data, _principal(db, user, "picking:write")))
    _print(wave, as_json, _pick_list_table)


@picking_app.command("show")
def picking_show(list_id: int, as_json: AsJson = False) -> None:
    """A pick list: its tasks in walking order."""
    from oms.picking.queries import read_pick_list

    _print(_run(lambda db: read_pick_list(db, list_id)), as_json, _pick_list_table)


@picking_app.command("scan")
def picking_scan(
    list_id: int,
    user: AsUser,
    bin: Annotated[str | None, typer.Option(help="The bin's code.")] = None,
    item: Annotated[str | None, typer.Option(help="The item's barcode (GTIN) or SKU.")] = None,
    quantity: Annotated[int | None, typer.Option(min=1, help="Units taken.")] = None,
    task: Annotated[int | None, typer.Option(help="The task (default: the next in the walk).")] = None,
) -> None:
    """One scan: --bin, then --item, then --quantity. A wrong one is refused and says what was expected."""
    from oms.cli import out
    from oms.picking.schemas import ScanCreate
    from oms.picking.service import scan

    data = _input(ScanCreate, task_id=task, bin=bin, item=item, quantity=quantity)
    done = _run(lambda db: scan(db, list_id, data, _principal(db, user, "picking:write")))
    out.print(
        f"{done.step} {done.value}: accepted; task {done.task.id} next step {done.task.next_step or 'none (done)'}; "
        f"list {done.pick_list_status}, shipment {done.shipment_status}"
    )


@picking_app.command("short")
def picking_short(list_id: int, task_id: int, found: Annotated[int, typer.Option(min=0)], user: AsUser) -> None:
    """The bin held less: pick what was found, correct the stock, re-route or backorder the rest."""
    from oms.cli import out
    from oms.picking.schemas import ShortCreate
    from oms.picking.service import short_pick

    done = _run(
        lambda db: short_pick(
            db, list_id, task_id, _input(ShortCreate, found=found), _principal(db, user, "picking:write")
        )
    )
    out.print(
        f"{done.missing} missing; re-reserved: {done.rerouted or 'none'}; backordered {done.backordered}; "
        f"order {done.order_status}"
    )


# -- packing --------------------------------------------------------------------------------------


@packing_app.command("boxes")
def packing_boxes(as_json: AsJson = False) -> None:
    """The box catalogue."""
    from oms.cli import out
    from oms.packing.boxes import list_boxes

    page = _run(lambda db: list_boxes(db, None, 200, None))
    if as_json:
        print(page.model_dump_json())
        return
    table = Table("code", "name", "inner mm", "max g", "tare g", "cost", "active")
    for b in page.items:
        dims = f"{b.inner_length_mm} x {b.inner_width_mm} x {b.inner_height_mm}"
        table.add_row(b.code, b.name, dims, str(b.max_weight_g), str(b.tare_weight_g), str(b.cost), str(b.is_active))
    out.print(table)


def _shipment_text(shipment: Any) -> str:
    lines = [f"shipment {shipment.id} ({shipment.order_number}, {shipment.warehouse}): {shipment.status}"]
    for p in shipment.packages:
        lines.append(
            f"  package {p.label} [{p.status}] {p.box.code}, fill {p.fill_rate:.0%}, {p.expected_weight_g} g"
            + (" FRAGILE" if p.fragile else "")
        )
        lines += [f"    {i.sku}: {i.scanned}/{i.expected} scanned" for i in p.items]
        lines += [f"    - {text}" for text in p.instructions]
    return "\n".join(lines)


@packing_app.command("pack")
def packing_pack(shipment_id: int, user: AsUser, as_json: AsJson = False) -> None:
    """Choose the boxes for a picked shipment and print the packing instructions."""
    from oms.packing.service import pack

    packed = _run(lambda db: pack(db, shipment_id, _principal(db, user, "packing:write")))
    _print(packed, as_json, _shipment_text)


@packing_app.command("scan")
def packing_scan(package_id: int, item: str, user: AsUser) -> None:
    """Scan an item (barcode or SKU) into its package; a wrong or extra item is refused."""
    from oms.cli import out
    from oms.packing.schemas import ScanCreate
    from oms.packing.service import scan

    done = _run(lambda db: scan(db, package_id, _input(ScanCreate, item=item), _principal(db, user, "packing:write")))
    out.print(f"{done.sku}: accepted" + ("; the package is complete" if done.complete else ""))


@packing_app.command("close")
def packing_close(
    package_id: int,
    user: AsUser,
    weight: Annotated[int | None, typer.Option(min=0, help="Measured weight in grams.")] = None,
) -> None:
    """Close a package (refused while items are missing); a weight far from the expected is flagged."""
    from oms.cli import out
    from oms.packing.schemas import CloseCreate
    from oms.packing.service import close

    done = _run(
        lambda db: close(
            db, package_id, _input(CloseCreate, measured_weight_g=weight), _principal(db, user, "packing:write")
        )
    )
    out.print(f"package {done.package.label} closed; shipment {done.shipment_status}")
    for warning in done.warnings:
        out.print(f"[yellow]warning:[/yellow] {warning}")
