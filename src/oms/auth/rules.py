"""Roles are named sets of scopes. A route asks for a scope; a token carries a subset of its
user's role scopes. Pure data and functions."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    PICKER = "picker"
    PACKER = "packer"
    SHIPPER = "shipper"
    CLERK = "clerk"
    SUPPORT = "support"
    CUSTOMER = "customer"


SCOPES: dict[str, str] = {
    "channels:read": "List channels",
    "channels:write": "Create and change channels",
    "products:read": "Read the catalogue",
    "products:write": "Create products and change their details",
    "prices:write": "Change a product's price",
    "warehouses:read": "List warehouses and bins",
    "warehouses:write": "Create warehouses and bins",
    "inventory:read": "Read stock levels and the ledger",
    "inventory:write": "Receive, adjust and transfer stock",
    "orders:read": "Read every order",
    "orders:read_own": "Read the orders placed with one's own email (customers)",
    "orders:write": "Create orders",
    "orders:hold": "Put orders on hold and release them",
    "orders:cancel": "Cancel orders",
    "orders:reroute": "Route orders again (choose other warehouses)",
    "payments:write": "Record payment authorisations and captures",
    "picking:write": "Pick orders",
    "packing:write": "Pack orders",
    "shipping:read": "Read shipments, labels, documents, manifests and late orders",
    "shipping:write": "Rate-shop, buy labels, ship packages and close manifests",
    "carriers:write": "Configure carriers, their services, rates and webhook secrets",
    "returns:write": "Handle returns: approve, reject, refund, exchange, close",
    "returns:receive": "Receive returned parcels and inspect their units",
    "returns:policy": "Set the return policies",
    "events:read": "Read the event outbox",
    "emails:read": "Read the emails sent to customers",
    "emails:write": "Re-send emails",
    "webhooks:admin": "Manage outbound webhook subscriptions and read their deliveries",
    "feedback:read": "Read customer feedback and its summaries",
    "tasks:write": "Work the support task list (follow-ups from low feedback scores)",
    "users:admin": "Manage users and their tokens",
}

_READ_FLOOR = {"products:read", "warehouses:read", "inventory:read", "orders:read", "channels:read", "shipping:read"}

ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.ADMIN: frozenset(SCOPES),
    Role.MANAGER: frozenset(SCOPES) - {"users:admin"},
    Role.PICKER: frozenset(_READ_FLOOR | {"picking:write"}),
    Role.PACKER: frozenset(_READ_FLOOR | {"packing:write", "returns:receive"}),
    Role.SHIPPER: frozenset(_READ_FLOOR | {"shipping:write"}),
    Role.CLERK: frozenset(_READ_FLOOR | {"orders:write", "payments:write", "orders:hold"}),
    Role.SUPPORT: frozenset(
        _READ_FLOOR
        | {
            "orders:hold",
            "orders:cancel",
            "orders:reroute",
            "payments:write",
            "returns:write",
            "returns:receive",
            "emails:read",
            "emails:write",
            "feedback:read",
            "tasks:write",
        }
    ),
    Role.CUSTOMER: frozenset({"products:read", "orders:read_own"}),
}


def scopes_for_token(role: Role, requested: list[str] | None) -> list[str]:
    """The scopes a new token gets: all of the role's, or the requested subset of them."""
    allowed = ROLE_SCOPES[role]
    if not requested:
        return sorted(allowed)
    unknown = [s for s in requested if s not in SCOPES]
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}")
    beyond = [s for s in requested if s not in allowed]
    if beyond:
        raise ValueError(f"role {role.value!r} may not hold scope(s): {', '.join(beyond)}")
    return sorted(set(requested))
