"""The customer's self-service return pages, at the site root and without a login: find the order by
its number and email address, choose what to send back and why, and follow the return afterwards.

Like the feedback page, a signed link is the only credential: there is no session and no cookie, so
nothing for a cross-site request to ride on. Tokens are in the URL, so responses are not cached and
send no Referer. Two kinds of link: ``START_PURPOSE`` opens an order's return form (the order id;
a day from the lookup form, longer from an email), ``service.LINK_PURPOSE`` a return's status page
(the return id).
"""

from __future__ import annotations

import contextlib
import functools
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from oms.db import Database
from oms.db.base import utcnow
from oms.errors import Conflict, InvalidInput, NotFound, RateLimited
from oms.feedback.rules import InvalidLink, LinkExpired, make_token, read_token, token_expiry
from oms.money import to_currency
from oms.orders.model import Order
from oms.orders.queries import order_number
from oms.returns import rules, service, views
from oms.returns.model import Return
from oms.returns.policies import policy_for
from oms.returns.schemas import ReturnCreate
from oms.schemas import normalise_email
from oms.web.deps import DbDep
from oms.web.pages import PUBLIC_PAGE_HEADERS, long_date, templates

router = APIRouter(include_in_schema=False)

START_PURPOSE = b"oms.return-start.v1"  # the token's id is the order's
START_LINK_DAYS = 1  # from the lookup form; emails may make longer-lived links to the same page
STATUS_LINK_DAYS = 90  # as long as the approval email's links

# The clock as a dependency, so a test can move it past a link's expiry or a return window.
Now = Annotated[datetime, Depends(utcnow)]

QTY_FIELD, REASON_FIELD = "quantity:", "reason:"  # "quantity:<SKU>", "reason:<SKU>"
COMMENT_MAX = 1000  # as ReturnCreate.comment
QTY_MAX = 1_000_000  # as oms.schemas.Quantity
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
NUMBER_MAX, EMAIL_MAX = 32, 320
NOT_FOUND = (
    "We could not find an order with that number and email address. Check both against your order confirmation email."
)
_HEADERS = PUBLIC_PAGE_HEADERS
STATUS_WORDS = {
    "requested": "Asked for: we will look at your request and email you our answer.",
    "approved": "Approved: bring or send the items back to us, with your return number on the parcel.",
    "rejected": "Not accepted.",
    "label_sent": "Approved: print the return label, stick it on the parcel and hand it to the carrier.",
    "in_transit": "On its way back to us.",
    "received": "Received: we are checking the items.",
    "inspected": "Checked: your refund or replacement is being prepared.",
    "refunded": "Refunded.",
    "exchanged": "Exchanged: a replacement order is on its way.",
    "closed": "Closed.",
}


@functools.cache
def _environment() -> jinja2.Environment:
    return templates("oms.returns")


def _page(name: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    html = _environment().get_template(f"returns/{name}").render(comment_max=COMMENT_MAX, **context)
    return HTMLResponse(html, status_code=status, headers={**_HEADERS, **(headers or {})})


def _link_problem(exc: InvalidLink | LinkExpired, token: str, kind: str) -> HTMLResponse:
    if isinstance(exc, LinkExpired):
        return _page("link_problem.html", 410, kind=kind, expired=True, expired_on=token_expiry(token))
    return _not_found(kind)


def _not_found(kind: str) -> HTMLResponse:
    return _page("link_problem.html", 404, kind=kind, expired=False, expired_on=None)


def _money(value: Decimal, currency: str) -> str:
    return f"{to_currency(value, currency)} {currency}"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


# --- what the customer sees of an order ----------------------------------------------------------


@dataclass
class _Line:
    sku: str
    name: str
    delivered: int
    left: int  # how many may still be asked for; 0 when the line cannot be returned
    why_not: str | None  # why nothing can be asked for


@dataclass
class _OrderView:
    number: str
    email: str
    policy: rules.Policy
    lines: list[_Line]
    blockers: list[str]  # why nothing on the order can be returned (not delivered, too late)
    policy_words: list[str]
    earlier: list[dict[str, Any]]  # the returns already asked for, with links to follow them

    @property
    def open_lines(self) -> list[_Line]:
        return [] if self.blockers else [ln for ln in self.lines if ln.left]


def _why_not(line: rules.DeliveredLine, policy: rules.Policy) -> str | None:
    if not line.returnable or line.sku in policy.non_returnable_skus:
        return "This item cannot be returned."
    if line.delivered == 0:
        return "Not delivered yet."
    if line.delivered <= line.already_returned:
        return "Already on a return." if line.delivered == 1 else f"All {line.delivered} are already on returns."
    return None


def _either(words: list[str]) -> str:
    return " or ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else "".join(words)


def _policy_words(policy: rules.Policy, currency: str, shipping_paid: Decimal, last_day: datetime | None) -> list[str]:
    ours = _either([f"“{r.label}”" for r in policy.reasons if r.shop_at_fault])
    waived = f" It is waived when the reason is {ours}." if ours else ""
    words = [
        f"You can ask for a return within {policy.window_days} days of delivery"
        + (f"; for this order the last day is {long_date(last_day)}." if last_day else ".")
    ]
    if policy.return_shipping_paid_by == "customer" and policy.return_shipping_fee:
        fee = _money(policy.return_shipping_fee, currency)
        words.append(f"Once we approve your return we email you a return label; it costs {fee}, taken off your refund.")
        words[-1] += waived
    else:
        words.append("Once we approve your return we email you a prepaid return label: sending it back is free.")
    if policy.restocking_fee_pct:
        pct = f"{policy.restocking_fee_pct.normalize():f}"
        words.append(f"A restocking fee of {pct}% of the returned items' value is taken off your refund.{waived}")
    share = "the returned items' share of what you paid for delivery"
    if shipping_paid and policy.refund_shipping == "always":
        words.append(f"We also refund {share}.")
    elif shipping_paid and policy.refund_shipping == "shop_at_fault" and ours:
        words.append(f"We also refund {share} when the reason is {ours}.")
    elif shipping_paid:
        words.append("What you paid for delivery is not refunded.")
    words.append(
        "Refunds go back to the way you paid."
        if policy.refund_method == "original_payment"
        else "Refunds are given as store credit."
    )
    if policy.exchange_allowed:
        words.append("Would you rather have a replacement? Say so in the comment.")
    return words


def _load_order(db: Database, secret: str, order_id: int, now: datetime) -> _OrderView | None:
    with db.read() as session:
        order = session.get(Order, order_id)
        if order is None:
            return None
        policy = policy_for(session, order.channel_id)
        lines, delivered_at = service.delivered_lines(session, order)
        earlier = session.execute(
            select(Return.id, Return.status, Return.created_at).where(Return.order_id == order_id).order_by(Return.id)
        ).all()
        email, currency, shipping_paid = order.customer_email, order.currency, order.shipping_total
    # The order-level refusals the rules would give (not delivered yet, past the window), found by
    # asking for nothing: "nothing requested" is the only other refusal that can come back.
    refusals = rules.check_eligibility(policy, lines, [], delivered_at, now)
    # One row per product: a product ordered on several lines is asked for once (service.spread_over_lines).
    shown: list[_Line] = []
    for ln in lines:
        why = _why_not(ln, policy)
        left = 0 if why else ln.delivered - ln.already_returned
        same = next((i for i, x in enumerate(shown) if x.sku == ln.sku), None)
        if same is None:
            shown.append(_Line(ln.sku, ln.name, ln.delivered, left, why))
        else:
            prev = shown[same]
            total = prev.left + left
            shown[same] = _Line(
                ln.sku, ln.name, prev.delivered + ln.delivered, total, None if total else prev.why or why
            )
    last_day = delivered_at + timedelta(days=policy.window_days) if delivered_at else None
    return _OrderView(
        number=order_number(order_id),
        email=email,
        policy=policy,
        lines=shown,
        blockers=[_sentence(r.detail) for r in refusals if r.code != "nothing_requested"],
        policy_words=_policy_words(policy, currency, shipping_paid, last_day),
        earlier=[
            {
                "rma": rules.rma_number(rid),
                "status": status.replace("_", " "),
                "created_at": created_at,
                "token": make_token(secret, rid, now + timedelta(days=STATUS_LINK_DAYS), service.LINK_PURPOSE),
            }
            for rid, status, created_at in earlier
        ],
    )


def _start(view: _OrderView, token: str, values: dict[str, Any], errors: list[str], status: int = 200) -> HTMLResponse:
    return _page("start.html", status, order=view, token=token, values=values, errors=errors)


# --- finding the order ---------------------------------------------------------------------------


def _find(values: dict[str, str], errors: list[str], status: int = 200, **headers: str) -> HTMLResponse:
    return _page("find.html", status, headers=headers, values=values, errors=errors)


@router.get("/returns", response_class=HTMLResponse)
def find_page() -> HTMLResponse:
    return _find({"number": "", "email": ""}, [])


@router.post("/returns", response_class=HTMLResponse)
async def find_post(request: Request, db: DbDep, now: Now) -> Response:
    fields = await request.form(max_files=0, max_fields=500)
    number = str(fields.get("number") or "").strip()[: NUMBER_MAX + 1]
    typed = str(fields.get("email") or "").strip()[: EMAIL_MAX + 1]
    shown = {"number": number, "email": typed}
    errors = []
    if not number:
        errors.append("Enter your order number: it is in your order confirmation email.")
    email = ""
    with contextlib.suppress(ValueError):  # not an email address: said below, like an empty one
        email = normalise_email(typed) if len(typed) <= EMAIL_MAX else ""
    if not email:
        errors.append("Enter the email address you placed the order with.")
    if errors:
        return _find(shown, errors, 422)
    # Guessing order numbers and emails is throttled like guessing passwords, as in the JSON API.
    throttle = request.app.state.login_throttle
    client = request.client.host if request.client else "unknown"
    try:
        throttle.check(client, f"returns:{email}")
    except RateLimited as exc:
        wait = int(exc.extra.get("retry_after_s", 60))
        message = f"Too many tries. Please wait {max(1, -(-wait // 60))} minutes and try again."
        return _find(shown, [message], 429, **{"Retry-After": str(wait)})
    try:
        order_id = await run_in_threadpool(service.customer_order, db, number, email)
    except NotFound:
        throttle.failed(client, f"returns:{email}")
        return _find(shown, [NOT_FOUND], 404)
    token = make_token(request.app.state.secret_key, order_id, now + timedelta(days=START_LINK_DAYS), START_PURPOSE)
    return RedirectResponse(f"/returns/start/{token}", status_code=303, headers=_HEADERS)


# --- choosing what to return ---------------------------------------------------------------------


@router.get("/returns/start/{token}", response_class=HTMLResponse)
def start_page(token: str, request: Request, db: DbDep, now: Now) -> HTMLResponse:
    secret = request.app.state.secret_key
    try:
        order_id = read_token(secret, token, now, START_PURPOSE, "return")
    except (InvalidLink, LinkExpired) as exc:
        return _link_problem(exc, token, "start")
    view = _load_order(db, secret, order_id, now)
    if view is None:
        return _not_found("start")
    return _start(view, token, {"quantities": {}, "reasons": {}, "comment": ""}, [])


def _listed(names: list[str]) -> str:
    shown = ", ".join(names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _read_choices(fields: Any, view: _OrderView) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    """The lines asked for, the values to show again, and what is wrong with the form. Quantities
    beyond what is left are the rules' to refuse (with the story of the units), not the form's."""
    lines = {ln.sku: ln for ln in view.lines}
    codes = view.policy.reason_codes
    quantities: dict[str, int] = {}
    reasons: dict[str, str] = {}
    errors: list[str] = []
    unknown: list[str] = []
    chosen: list[dict[str, Any]] = []
    seen: set[str] = set()
    for key, value in fields.multi_items():
        if not key.startswith(QTY_FIELD):
            continue
        sku, raw = key[len(QTY_FIELD) :], str(value).strip()
        line = lines.get(sku)
        if line is None:
            unknown.append(repr(sku[:64]))
        elif sku in seen:
            errors.append(f"The quantity for {line.name} was sent twice; send it once.")
        elif raw and not (raw.isascii() and raw.isdigit() and len(raw) <= 7 and int(raw) <= QTY_MAX):
            errors.append(f"The quantity for {line.name} must be a whole number, 0 to {line.left}.")
        elif int(raw or 0):
            quantities[sku] = int(raw)
            reason = str(fields.get(REASON_FIELD + sku) or "").strip()
            if reason in codes:
                chosen.append({"sku": sku, "quantity": int(raw), "reason": reason})
            else:
                errors.append(f"Choose why you are returning {line.name}.")
        seen.add(sku)
    for key, value in fields.multi_items():  # reasons shown again even where no quantity was chosen
        sku = key[len(REASON_FIELD) :] if key.startswith(REASON_FIELD) else ""
        if sku in lines and str(value) in codes:
            reasons.setdefault(sku, str(value))
    if unknown:
        errors.append(f"Not on this order: {_listed(unknown)}.")
    # Control characters (a NUL above all, which PostgreSQL refuses to store) are never meant.
    comment = _CONTROL.sub("", str(fields.get("comment") or "")).strip()
    if len(comment) > COMMENT_MAX:
        errors.append(f"The comment is too long: at most {COMMENT_MAX} characters ({len(comment)} given).")
    if not chosen and not errors:
        errors.append("Choose at least one item to return: set its quantity above 0.")
    return chosen, {"quantities": quantities, "reasons": reasons, "comment": comment}, errors


@router.post("/returns/start/{token}", response_class=HTMLResponse)
async def start_post(token: str, request: Request, db: DbDep, now: Now) -> HTMLResponse:
    secret = request.app.state.secret_key
    fields = await request.form(max_files=0, max_fields=500)
    try:
        order_id = read_token(secret, token, now, START_PURPOSE, "return")
    except (InvalidLink, LinkExpired) as exc:
        return _link_problem(exc, token, "start")
    view = await run_in_threadpool(_load_order, db, secret, order_id, now)
    if view is None:
        return _not_found("start")
    chosen, shown, errors = _read_choices(fields, view)
    if errors:
        return _start(view, token, shown, errors, 422)
    try:
        data = ReturnCreate.model_validate({"order_id": order_id, "lines": chosen, "comment": shown["comment"] or None})
    except ValidationError:
        return _start(view, token, shown, ["The form could not be read; please choose again."], 422)
    try:
        return_id = await run_in_threadpool(
            service.request_return, db, data, f"customer:{view.email}", order_id=order_id, now=now
        )
    except (Conflict, InvalidInput) as exc:
        refusals = exc.extra.get("refusals") or [{"detail": exc.detail}]
        messages = list(dict.fromkeys(_sentence(r["detail"]) for r in refusals))
        view = await run_in_threadpool(_load_order, db, secret, order_id, now) or view
        return _start(view, token, shown, messages, 409 if isinstance(exc, Conflict) else 422)
    except NotFound:
        return _not_found("start")
    ret = await run_in_threadpool(views.get_return, db, return_id)
    labels = {r.code: r.label for r in view.policy.reasons}
    status_token = make_token(secret, return_id, now + timedelta(days=STATUS_LINK_DAYS), service.LINK_PURPOSE)
    return _page("requested.html", 200, ret=ret, labels=labels, status_token=status_token)


# --- following a return --------------------------------------------------------------------------


def _load_return(db: Database, return_id: int) -> dict[str, Any] | None:
    with db.read() as session:
        row = session.get(Return, return_id)
        if row is None:
            return None
        ret = views.return_out(session, row)
        order = session.get(Order, row.order_id)
        assert order is not None
        labels = {r.code: r.label for r in policy_for(session, order.channel_id).reasons}
        return {
            "ret": ret,
            "labels": labels,
            "status_words": STATUS_WORDS.get(ret.status, ret.status),
            "refund": _money(ret.refund_total, order.currency) if ret.refund_total is not None else None,
            "exchange_number": order_number(ret.exchange_order_id) if ret.exchange_order_id else None,
            "has_label": row.label_pdf is not None,
        }


@router.get("/returns/{token}", response_class=HTMLResponse)
def return_page(token: str, request: Request, db: DbDep, now: Now) -> HTMLResponse:
    try:
        return_id = read_token(request.app.state.secret_key, token, now, service.LINK_PURPOSE, "return")
    except (InvalidLink, LinkExpired) as exc:
        return _link_problem(exc, token, "status")
    found = _load_return(db, return_id)
    if found is None:
        return _not_found("status")
    return _page("status.html", 200, token=token, **found)


@router.get("/returns/{token}/label.pdf", response_class=Response)
def label_pdf(token: str, request: Request, db: DbDep, now: Now) -> Response:
    try:
        return_id = read_token(request.app.state.secret_key, token, now, service.LINK_PURPOSE, "return")
    except (InvalidLink, LinkExpired) as exc:
        return _link_problem(exc, token, "status")
    exists, pdf = views.label_of(db, return_id, "pdf")
    if not exists:
        return _not_found("status")
    rma = rules.rma_number(return_id)
    if pdf is None:
        return _page("no_label.html", 404, rma=rma, token=token)
    disposition = f'inline; filename="{rma}-label.pdf"'
    return Response(pdf, media_type="application/pdf", headers={**_HEADERS, "Content-Disposition": disposition})


__all__ = ["START_PURPOSE", "router"]
