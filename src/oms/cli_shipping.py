"""``oms shipping``: the shipping desk from a terminal: rate shop, buy labels (and save them for the
printer), confirm shipments, close the day's manifest, list late orders.

The same services the API calls; commands that change something act as the user named by ``--as``
(``oms.cli_floor`` explains why)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from oms.cli_floor import AsJson, AsUser, _input, _principal, _print, _run

shipping_app = typer.Typer(help="Rates, labels, shipping, manifests, late orders.", no_args_is_help=True)


def _public_url() -> str:
    from oms.cli import _settings

    return _settings().public_url


def _shipping_text(s: Any) -> str:
    lines = [f"shipment {s.id} ({s.order_number}, {s.warehouse}): {s.status}"]
    if s.tracking_number:
        lines.append(f"  {s.service_name}: {s.tracking_number}, {s.shipping_cost} {s.currency}")
        lines.append(f"  track: {s.tracking_url}")
    if s.estimated_delivery:
        lines.append(f"  expected {s.estimated_delivery}")
    return "\n".join(lines)


@shipping_app.command("rates")
def shipping_rates(shipment_id: int, user: AsUser, as_json: AsJson = False) -> None:
    """Rate-shop a packed shipment: the chosen service, the alternatives and why."""
    from oms.shipping.service import shop_rates

    choice = _run(lambda db: shop_rates(db, shipment_id, _principal(db, user, "shipping:write")))

    def table(c: Any) -> Table:
        t = Table("", "carrier", "service", "level", "cost", "days", "arrives", "meets promise", title=c.reason)
        for mark, o in [("*", c.chosen), *(("", a) for a in c.alternatives)]:
            meets = "" if o.meets_promise is None else ("yes" if o.meets_promise else "no")
            cost, days, arrives = f"{o.cost} {o.currency}", str(o.transit_days), str(o.estimated_delivery)
            t.add_row(mark, o.carrier, o.service_name, o.level, cost, days, arrives, meets)
        return t

    _print(choice, as_json, table)


@shipping_app.command("label")
def shipping_label(
    shipment_id: int,
    user: AsUser,
    carrier: Annotated[str | None, typer.Option(help="Override the rate-shop choice (with --service).")] = None,
    service: Annotated[str | None, typer.Option(help="Service code, e.g. ground.")] = None,
    pdf: Annotated[Path | None, typer.Option(help="Save the labels as PDF here.")] = None,
    zpl: Annotated[Path | None, typer.Option(help="Save the labels as ZPL here.")] = None,
    as_json: AsJson = False,
) -> None:
    """Buy the labels of a packed shipment; optionally save them for the printer."""
    from oms.shipping import queries
    from oms.shipping.labelling import buy_labels
    from oms.shipping.schemas import LabelCreate

    data = _input(LabelCreate, carrier=carrier, service=service)

    def work(db: Any) -> Any:
        buy_labels(db, shipment_id, data, _principal(db, user, "shipping:write"))
        if pdf is not None:
            pdf.write_bytes(queries.label_pdf(db, shipment_id)[0])
        if zpl is not None:
            zpl.write_text(queries.label_zpl(db, shipment_id)[0])
        return queries.read_shipping(db, shipment_id, _public_url())

    _print(_run(work), as_json, _shipping_text)


@shipping_app.command("ship")
def shipping_ship(shipment_id: int, user: AsUser, as_json: AsJson = False) -> None:
    """Confirm a labelled shipment: its stock leaves, the order ships, the customer is told."""
    from oms.shipping import queries
    from oms.shipping.confirm import ship

    def work(db: Any) -> Any:
        ship(db, shipment_id, _principal(db, user, "shipping:write"), _public_url())
        return queries.read_shipping(db, shipment_id, _public_url())

    _print(_run(work), as_json, _shipping_text)


@shipping_app.command("manifest")
def shipping_manifest(
    carrier: str,
    warehouse: str,
    user: AsUser,
    pdf: Annotated[Path | None, typer.Option(help="Save the manifest as PDF here.")] = None,
    csv: Annotated[Path | None, typer.Option(help="Save the manifest as CSV here.")] = None,
    as_json: AsJson = False,
) -> None:
    """Close the day for a carrier at a warehouse: every shipped parcel not yet on a manifest."""
    from oms.shipping import manifest, manifest_service
    from oms.shipping.schemas import ManifestCreate

    body = _input(ManifestCreate, carrier=carrier, warehouse=warehouse)

    def work(db: Any) -> Any:
        m = manifest_service.close_manifest(db, body, _principal(db, user, "shipping:write"))
        if pdf is not None or csv is not None:
            data = manifest_service.manifest_data(db, m.id)
            if pdf is not None:
                pdf.write_bytes(manifest.manifest_pdf(data))
            if csv is not None:
                csv.write_text(manifest.manifest_csv(data))
        return m

    _print(_run(work), as_json, lambda m: f"manifest {m.id}: {m.shipments} shipment(s), {m.packages} package(s)")


@shipping_app.command("late")
def shipping_late(
    flag: Annotated[str | None, typer.Option(help="late_to_ship, at_risk_to_ship, late_to_deliver, ...")] = None,
    as_json: AsJson = False,
) -> None:
    """Orders whose promise is broken or at risk."""
    from oms.cli import out
    from oms.shipping.queries import late_orders

    found = _run(lambda db: late_orders(db, flag, None))
    if as_json:
        print("[" + ",".join(o.model_dump_json() for o in found) + "]")
        return
    table = Table("order", "channel", "status", "ship by", "deliver by", "flags")
    for o in found:
        deliver_by = f"{o.deliver_by:%Y-%m-%d}" if o.deliver_by else ""
        flags = "; ".join(f.reason for f in o.flags)
        table.add_row(o.number, o.channel, o.status, f"{o.ship_by:%Y-%m-%d %H:%M}", deliver_by, flags)
    out.print(table)
