"""Catalogue use cases."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oms.auth.service import Principal
from oms.catalog.model import Product
from oms.catalog.schemas import ProductCreate, ProductOut, ProductUpdate
from oms.db import Database
from oms.errors import AlreadyExists, Forbidden, InvalidInput, NotFound
from oms.money import check_amount
from oms.schemas import Page, keyset, page_of

PRICE_FIELDS = {"price", "currency"}


def _check_unique(session: Session, sku: str | None, barcode: str | None, product_id: int | None = None) -> None:
    if sku and session.scalar(select(Product.id).where(Product.sku == sku)):
        raise AlreadyExists(f"a product with SKU {sku!r} already exists")
    if barcode:
        other = session.scalar(select(Product.sku).where(Product.barcode == barcode, Product.id != (product_id or 0)))
        if other:
            raise AlreadyExists(f"product {other!r} already carries barcode {barcode}")


def _run_unique(db: Database, use_case):  # type: ignore[no-untyped-def]
    """The checks above cover the common case; a concurrent insert still trips the unique index."""
    try:
        return db.run(use_case)
    except IntegrityError:
        raise AlreadyExists("another product with this SKU or barcode was created at the same moment") from None


def create_product(db: Database, data: ProductCreate) -> ProductOut:
    def use_case(session: Session) -> ProductOut:
        _check_unique(session, data.sku, data.barcode)
        product = Product(**data.model_dump())
        session.add(product)
        session.flush()
        return ProductOut.model_validate(product)

    return _run_unique(db, use_case)  # type: ignore[no-any-return]


def get_product(session: Session, sku: str) -> Product:
    product = session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        raise NotFound(f"no product with SKU {sku!r}")
    return product


def read_product(db: Database, sku: str) -> ProductOut:
    with db.read() as session:
        return ProductOut.model_validate(get_product(session, sku))


def update_product(db: Database, sku: str, data: ProductUpdate, principal: Principal) -> ProductOut:
    changes = data.model_dump(exclude_unset=True)
    if PRICE_FIELDS & changes.keys() and "prices:write" not in principal.scopes:
        raise Forbidden("changing a price needs the prices:write scope", required=["prices:write"])
    nulls = [k for k, v in changes.items() if v is None and k not in {"barcode", "reorder_point"}]
    if nulls:
        raise InvalidInput(f"{', '.join(nulls)} cannot be null", code="validation_error")

    def use_case(session: Session) -> ProductOut:
        product = get_product(session, sku)
        _check_unique(session, None, changes.get("barcode"), product.id)
        for key, value in changes.items():
            setattr(product, key, value)
        product.price = check_amount(product.price, product.currency, "price")
        session.flush()
        return ProductOut.model_validate(product)

    return _run_unique(db, use_case)  # type: ignore[no-any-return]


def list_products(db: Database, q: str | None, limit: int, cursor: str | None, active: bool | None) -> Page[ProductOut]:
    stmt = keyset(select(Product), Product.id, cursor, limit)
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            or_(func.lower(Product.sku).like(like), func.lower(Product.name).like(like), Product.barcode == q)
        )
    if active is not None:
        stmt = stmt.where(Product.is_active.is_(active))
    with db.read() as session:
        rows = [ProductOut.model_validate(p) for p in session.scalars(stmt)]
    return page_of(rows, limit)
