"""Who may call what: tokens, scopes, roles, customers, passwords."""

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

from oms.auth.model import ApiToken, User
from oms.auth.rules import ROLE_SCOPES, SCOPES, Role
from tests.conftest import SECRET
from tests.factories import make_token, order_body

# Public on purpose: logging in; the carrier's tracking webhook (its HMAC signature is the credential);
# the customer's feedback (the signed link in the email is the credential).
PUBLIC = {
    ("POST", "/api/v1/auth/token"),
    ("GET", "/healthz"),
    ("POST", "/api/v1/carriers/{code}/tracking-events"),
    ("POST", "/api/v1/feedback/{token}"),
    # A customer asks for a return with the order number and email (staff with a token and
    # returns:write; the route checks that itself, tested in tests/e2e/test_returns.py).
    ("POST", "/api/v1/returns"),
}


def _api_routes(app):
    """Every API route with the scopes its dependencies ask for. FastAPI nests included routers
    (older versions copy their routes up, newer ones wrap them), so walk both shapes."""
    found = []

    def scopes_of(route):
        scopes = set()
        stack = list(route.dependant.dependencies)
        while stack:
            dep = stack.pop()
            scopes.update(getattr(dep.call, "required_scopes", ()))
            stack.extend(dep.dependencies)
        return scopes

    def walk(routes, prefix):
        for route in routes:
            if isinstance(route, APIRoute):
                for method in route.methods:
                    found.append((method, prefix + route.path, scopes_of(route), route))
            elif hasattr(route, "original_router"):
                walk(route.original_router.routes, prefix + route.include_context.prefix)

    walk(app.router.routes, "")
    return found


def test_every_api_route_declares_the_scopes_it_needs(app):
    routes = [r for r in _api_routes(app) if r[1].startswith("/api/")]
    assert len(routes) >= 20
    for method, path, scopes, _ in routes:
        if (method, path) in PUBLIC or path == "/api/v1/auth/me":
            continue
        assert scopes, f"{method} {path} declares no scope"
        assert scopes <= set(SCOPES), f"{method} {path} asks for an unknown scope {scopes - set(SCOPES)}"


def test_every_request_schema_refuses_unknown_fields(app):
    for method, path, _, route in _api_routes(app):
        body = route.body_field
        if body is None:
            continue
        model = body.field_info.annotation
        models = [m for m in getattr(model, "__args__", (model,)) if hasattr(m, "model_config")]
        for m in models:
            assert m.model_config.get("extra") == "forbid", f"{method} {path}: {m.__name__} accepts unknown fields"


def test_without_a_token_the_api_answers_401_in_the_error_shape(client):
    response = client.get("/api/v1/orders")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    bad = client.get("/api/v1/orders", headers={"Authorization": "Bearer oms_not-a-real-token"})
    assert bad.status_code == 401
    assert bad.json()["detail"] == "the bearer token is not valid"
    basic = client.get("/api/v1/orders", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401


def test_a_picker_can_read_but_cannot_cancel_an_order_or_change_a_price(api, db):
    api.warehouse("NJ1")
    api.product("MUG-1")
    api.channel("web")
    api.receive("NJ1", "MUG-1", 3)
    order = api.order([("MUG-1", 1)])
    picker = api.as_token(make_token(db, SECRET, "picker"))
    assert picker.get(f"/orders/{order['id']}").status_code == 200
    cancel = picker.post(f"/orders/{order['id']}/cancel")
    assert cancel.status_code == 403
    assert cancel.json()["error"] == "forbidden"
    assert cancel.json()["required"] == ["orders:cancel"]
    assert picker.patch("/products/MUG-1", {"price": "1.00"}).status_code == 403
    assert api.ok(api.get(f"/orders/{order['id']}"))["status"] == "confirmed"
    assert api.ok(api.get("/products/MUG-1"))["price"] == "10.00"


def test_changing_a_price_needs_the_price_scope_even_with_product_write(api, db):
    api.product("MUG-1")
    editor = api.as_token(make_token(db, SECRET, "manager", scopes=["products:read", "products:write"]))
    assert editor.ok(editor.patch("/products/MUG-1", {"name": "Big mug"}))["name"] == "Big mug"
    refused = editor.patch("/products/MUG-1", {"name": "Cheap mug", "price": "0.50"})
    assert refused.status_code == 403
    assert api.ok(api.get("/products/MUG-1"))["name"] == "Big mug"
    assert api.ok(api.patch("/products/MUG-1", {"price": "12.50"}))["price"] == "12.50"


def test_customers_see_only_their_own_orders(api, db):
    api.warehouse("NJ1")
    api.product("MUG-1")
    api.channel("web")
    api.receive("NJ1", "MUG-1", 5)
    mine = api.ok(api.post("/orders", order_body([("MUG-1", 1)]) | {"customer": {"email": "Grace@Example.com"}}), 201)
    theirs = api.order([("MUG-1", 1)])
    grace = api.as_token(make_token(db, SECRET, "customer", email="grace@example.com"))
    assert [o["id"] for o in grace.ok(grace.get("/orders"))["items"]] == [mine["id"]]
    assert grace.get(f"/orders/{mine['id']}").status_code == 200
    assert grace.get(f"/orders/{theirs['id']}").status_code == 404
    assert grace.get(f"/orders/{theirs['id']}/events").status_code == 404
    assert grace.post("/orders", order_body([("MUG-1", 1)])).status_code == 403


def test_a_token_cannot_hold_scopes_beyond_its_role(db):
    with pytest.raises(Exception, match="may not hold"):
        make_token(db, SECRET, "picker", scopes=["orders:cancel"])


def test_roles_are_sets_of_known_scopes():
    assert set(ROLE_SCOPES) == set(Role)
    for scopes in ROLE_SCOPES.values():
        assert scopes <= set(SCOPES)
    assert "orders:cancel" not in ROLE_SCOPES[Role.PICKER]
    assert "prices:write" not in ROLE_SCOPES[Role.CLERK]


def test_logging_in_with_a_password_gives_an_expiring_token_and_secrets_are_stored_hashed(api, db):
    api.ok(api.get("/auth/me"))
    with db.read() as s:
        user = s.scalars(select(User)).first()
        tokens = s.scalars(select(ApiToken)).all()
    assert user.password_hash.startswith("$argon2id$")
    assert all(not t.token_hash.startswith("oms_") and len(t.token_hash) == 64 for t in tokens)
    assert api.token not in {t.token_hash for t in tokens}

    wrong = api.client.post("/api/v1/auth/token", json={"email": user.email, "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "unauthenticated"
    nobody = api.client.post("/api/v1/auth/token", json={"email": "ghost@example.com", "password": "nope"})
    assert nobody.status_code == 401
    login = api.client.post("/api/v1/auth/token", json={"email": user.email, "password": "correct horse battery"})
    assert login.status_code == 200, login.text
    token = login.json()["token"]
    assert login.json()["expires_at"]
    me = api.as_token(token).ok(api.as_token(token).get("/auth/me"))
    assert me["email"] == user.email and me["role"] == "admin"


def test_password_guessing_is_answered_with_429_and_retry_after(api, db):
    with db.read() as s:
        email = s.scalars(select(User)).first().email
    for _ in range(5):
        assert api.client.post("/api/v1/auth/token", json={"email": email, "password": "guess"}).status_code == 401
    blocked = api.client.post("/api/v1/auth/token", json={"email": email, "password": "correct horse battery"})
    assert blocked.status_code == 429
    assert blocked.json()["error"] == "too_many_requests"
    assert int(blocked.headers["Retry-After"]) > 0


def test_customers_read_their_timeline_without_staff_names_or_notes(api, db):
    api.warehouse("NJ1")
    api.product("MUG-1")
    api.channel("web")
    api.receive("NJ1", "MUG-1", 5)
    mine = api.ok(api.post("/orders", order_body([("MUG-1", 1)]) | {"customer": {"email": "grace@example.com"}}), 201)
    api.ok(api.post(f"/orders/{mine['id']}/hold", {"reason": "suspected fraud, ask Bob"}))
    grace = api.as_token(make_token(db, SECRET, "customer", email="grace@example.com"))
    events = grace.ok(grace.get(f"/orders/{mine['id']}/events"))["items"]
    assert [e["message"] for e in events] == ["Order placed", "Payment received", "Order on hold"]
    assert {e["actor"] for e in events} == {"oms"}
    assert all(e["data"] is None for e in events)
    staff = api.ok(api.get(f"/orders/{mine['id']}/events"))["items"]
    assert "suspected fraud" in staff[-1]["message"]


def test_a_write_only_integration_learns_a_channel_order_exists_but_not_its_contents(api, db):
    api.warehouse("NJ1")
    api.product("MUG-1")
    api.channel("web")
    api.receive("NJ1", "MUG-1", 5)
    first = api.order([("MUG-1", 1)], external_id="shop-1001")
    writer = api.as_token(make_token(db, SECRET, "clerk", scopes=["orders:write"]))
    again = writer.post("/orders", order_body([("MUG-1", 1)]) | {"external_id": "shop-1001"})
    assert again.status_code == 409
    assert again.json()["error"] == "already_exists"
    assert again.json()["order_id"] == first["id"]
    assert "customer" not in again.json()
    assert api.stock("MUG-1")["reserved"] == 1
