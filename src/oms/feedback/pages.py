"""The public feedback page: the link in the feedback email opens a plain HTML form (no login, no
JavaScript) that rates the order, and optionally each product, with a comment.

The signed link is the only credential, so there is no session and nothing for a cross-site
request to ride on. The token is in the URL: responses are not cached and send no Referer.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Annotated, Any

import jinja2
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from oms.db.base import utcnow
from oms.errors import InvalidInput
from oms.feedback import service
from oms.feedback.rules import InvalidLink, LinkExpired, token_expiry
from oms.feedback.schemas import COMMENT_MAX, FeedbackFormOut, FeedbackSubmit
from oms.web.deps import DbDep
from oms.web.pages import PUBLIC_PAGE_HEADERS, templates

router = APIRouter(include_in_schema=False)

# The clock as a dependency, so a test can move it past a link's expiry.
Now = Annotated[datetime, Depends(utcnow)]

SCALE = {1: "Very poor", 2: "Poor", 3: "OK", 4: "Good", 5: "Excellent"}
ITEM_FIELD = "item:"  # the form field of a product's rating is "item:<SKU>"
_HEADERS = PUBLIC_PAGE_HEADERS


@functools.cache
def _environment() -> jinja2.Environment:
    return templates("oms.feedback")


def _page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _environment().get_template(f"feedback/{name}").render(scale=SCALE, comment_max=COMMENT_MAX, **context)
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _link_problem(exc: InvalidLink | LinkExpired, token: str) -> HTMLResponse:
    if isinstance(exc, LinkExpired):
        return _page("link_problem.html", 410, expired=True, expired_on=token_expiry(token))
    return _page("link_problem.html", 404, expired=False, expired_on=None)


def _form(form: FeedbackFormOut, values: dict[str, Any], errors: list[str], status: int = 200) -> HTMLResponse:
    products = list({line.sku: line for line in form.lines}.values())  # one rating per product
    return _page("form.html", status, form=form, products=products, values=values, errors=errors)


@router.get("/feedback/{token}", response_class=HTMLResponse)
def feedback_page(token: str, request: Request, db: DbDep, now: Now) -> HTMLResponse:
    try:
        form = service.feedback_form(db, request.app.state.secret_key, token, now)
    except (InvalidLink, LinkExpired) as exc:
        return _link_problem(exc, token)
    values = {"rating": form.rating, "comment": form.comment or "", "items": form.items}
    return _form(form, values, [])


def _read_form(fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The posted form as the JSON API's body, and as the values to show again on a refusal."""
    rating = str(fields.get("rating") or "").strip()
    comment = str(fields.get("comment") or "")
    items = {
        key[len(ITEM_FIELD) :]: str(value).strip()
        for key, value in fields.multi_items()
        if key.startswith(ITEM_FIELD) and str(value).strip()
    }
    body: dict[str, Any] = {"rating": rating or None, "comment": comment, "items": items}
    shown = {
        "rating": int(rating) if rating.isascii() and rating.isdigit() else None,
        "comment": comment,
        "items": {sku: int(v) for sku, v in items.items() if v.isascii() and v.isdigit()},
    }
    return body, shown


def _explain(exc: ValidationError) -> list[str]:
    messages = []
    for err in exc.errors():
        where = err["loc"][0] if err["loc"] else ""
        if where == "rating":
            messages.append("Choose a rating from 1 to 5 for the order.")
        elif where == "comment":
            messages.append(f"The comment is too long: at most {COMMENT_MAX} characters.")
        elif where == "items":
            messages.append("A product rating is not one of 1 to 5.")
        else:
            messages.append("The form could not be read; please try again.")
    return list(dict.fromkeys(messages))


@router.post("/feedback/{token}", response_class=HTMLResponse)
async def feedback_post(token: str, request: Request, db: DbDep, now: Now) -> HTMLResponse:
    secret = request.app.state.secret_key
    fields = await request.form(max_files=0, max_fields=500)
    body, shown = _read_form(fields)
    try:
        form = await run_in_threadpool(service.feedback_form, db, secret, token, now)
    except (InvalidLink, LinkExpired) as exc:
        return _link_problem(exc, token)
    try:
        data = FeedbackSubmit.model_validate(body)
    except ValidationError as exc:
        return _form(form, shown, _explain(exc), 422)
    try:
        receipt, created = await run_in_threadpool(
            service.submit, db, secret, token, data.rating, data.comment, data.items, now
        )
    except (InvalidLink, LinkExpired) as exc:
        return _link_problem(exc, token)
    except InvalidInput as exc:
        return _form(form, shown, [exc.detail], 422)
    return _page("thanks.html", receipt=receipt, created=created, token=token)
