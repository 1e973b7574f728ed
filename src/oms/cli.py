"""The ``oms`` command. Thin: parses arguments, calls services, prints (Rich tables or --json)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from oms.cli_floor import packing_app, picking_app, routing_app
from oms.cli_shipping import shipping_app
from oms.config import ConfigError, Settings, load_settings
from oms.db import Database

app = typer.Typer(help="oms: order management for retail.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
users_app = typer.Typer(help="People who use oms.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(routing_app, name="routing")
app.add_typer(picking_app, name="picking")
app.add_typer(packing_app, name="packing")
app.add_typer(shipping_app, name="shipping")

out = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    try:
        settings = load_settings()
        settings.resolved_secret_key()
        return settings
    except ConfigError as exc:
        err.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


def _database(settings: Settings) -> Database:
    return Database(
        settings.resolved_database_url(), pool_size=2, max_overflow=2, busy_s=settings.sqlite_busy_timeout_s
    )


def _upgrade(settings: Settings) -> None:
    from oms.db.migrate import upgrade

    upgrade(settings.resolved_database_url())


def _fail(exc: Exception) -> typer.Exit:
    from oms.errors import DomainError

    if isinstance(exc, DomainError):
        err.print(f"[red]{exc.code}:[/red] {exc.detail}")
        return typer.Exit(1)
    raise exc


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every migration that has not run yet."""
    settings = _settings()
    _upgrade(settings)
    out.print(f"database is up to date: {_redact(settings.resolved_database_url())}")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    # Worker processes build their own app from the environment; make sure they see the same settings.
    os.environ.setdefault("OMS_DATA_DIR", str(settings.resolved_data_dir()))
    uvicorn.run(
        "oms.app:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        log_level=settings.log_level,
        access_log=False,
    )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (use PostgreSQL beyond one machine).")] = 1,
) -> None:
    """Serve the API (migrations are applied first)."""
    settings = _settings()
    _upgrade(settings)
    _serve(settings, host, port, workers)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Seed and print the login, then exit.")] = False,
) -> None:
    """Seed a realistic demo business (if the database is empty), then serve it."""
    from oms.demo import seed_demo

    settings = _settings()
    _upgrade(settings)
    db = _database(settings)
    login = seed_demo(db, settings.resolved_secret_key())
    db.dispose()
    url = f"http://{host}:{port}"
    out.print(f"\n[bold green]oms demo[/bold green] is ready at [link={url}]{url}[/link]  (API docs: {url}/docs)")
    # soft_wrap: never break the token across lines, whatever the terminal (or log) width.
    out.print(f"  log in:    {login.email} / {login.password}", soft_wrap=True)
    out.print(f"  API token: {login.token}", soft_wrap=True)
    out.print(
        f"  try:       curl -H 'Authorization: Bearer {login.token}' {url}/api/v1/orders?limit=5\n", soft_wrap=True
    )
    if not no_serve:
        _serve(settings, host, port, 1)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Drain what is pending, then exit.")] = False,
) -> None:
    """Run the background worker that delivers outbox events."""
    from oms.events.worker import Worker, default_registry

    settings = _settings()
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    db = _database(settings)
    w = Worker(db, default_registry(db, settings))
    if once:
        n = w.drain()
        out.print(f"delivered {n} event(s)")
        return
    signal.signal(signal.SIGTERM, lambda *_: w.stopping.set())
    with contextlib.suppress(KeyboardInterrupt):
        w.run_forever()


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Login email.")],
    role: Annotated[str, typer.Option(help="admin, manager, picker, packer, shipper, clerk, support or customer.")],
    password: Annotated[str | None, typer.Option(help="Omit for a token-only user.")] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
) -> None:
    """Create a user."""
    from oms.auth.service import create_user

    db = _database(_settings())
    try:
        with db.write() as session:
            user = create_user(session, email, role, password, name)
            out.print(f"created {user.role} {user.email} (id {user.id})")
    except Exception as exc:
        raise _fail(exc) from None


@users_app.command("list")
def users_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List users."""
    from oms.auth.model import User

    db = _database(_settings())
    with db.read() as session:
        users = [
            {"id": u.id, "email": u.email, "role": u.role, "active": u.is_active}
            for u in session.scalars(select(User).order_by(User.id))
        ]
    if as_json:
        print(json.dumps(users))
        return
    table = Table("id", "email", "role", "active")
    for u in users:
        table.add_row(str(u["id"]), u["email"], u["role"], "yes" if u["active"] else "no")
    out.print(table)


@tokens_app.command("create")
def tokens_create(
    email: Annotated[str, typer.Option(help="The user the token acts for.")],
    scope: Annotated[list[str] | None, typer.Option(help="Limit the token to these scopes (repeat).")] = None,
    name: Annotated[str | None, typer.Option(help="A label to recognise the token by.")] = None,
) -> None:
    """Create an API token and print it alone on stdout (it is shown only this once)."""
    from oms.auth.service import create_token, find_user

    settings = _settings()
    db = _database(settings)
    try:
        with db.write() as session:
            token, _ = create_token(session, settings.resolved_secret_key(), find_user(session, email), scope, name)
    except Exception as exc:
        raise _fail(exc) from None
    sys.stdout.write(token + "\n")


@app.command("orders")
def orders_list(
    status: Annotated[str | None, typer.Option(help="Only orders in this status.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the newest orders."""
    from oms.auth.service import Principal
    from oms.orders.queries import list_orders

    db = _database(_settings())
    operator = Principal(user_id=0, email="cli", role="admin", scopes=frozenset({"orders:read"}))
    page = list_orders(db, operator, status=status, channel=None, q=None, limit=limit, cursor=None)
    if as_json:
        print(json.dumps([o.model_dump(mode="json") for o in page.items]))
        return
    table = Table("number", "channel", "status", "payment", "total", "customer", "created")
    for o in page.items:
        table.add_row(
            o.number,
            o.channel,
            o.status,
            o.payment_status,
            f"{o.total} {o.currency}",
            o.customer_email,
            o.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    out.print(table)


@app.command("stock")
def stock_show(
    sku: Annotated[str, typer.Argument(help="The SKU to show.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Stock of one SKU per warehouse."""
    from oms.inventory.service import stock_for_sku

    db = _database(_settings())
    try:
        s = stock_for_sku(db, sku)
    except Exception as exc:
        raise _fail(exc) from None
    if as_json:
        print(s.model_dump_json())
        return
    table = Table("warehouse", "on hand", "reserved", "available", title=f"{s.sku}")
    for w in s.warehouses:
        table.add_row(w.warehouse, str(w.on_hand), str(w.reserved), str(w.available))
    table.add_row("[bold]total", str(s.on_hand), str(s.reserved), str(s.available))
    out.print(table)


def main() -> None:
    app()
