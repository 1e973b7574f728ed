"""docs/order-lifecycle.md draws exactly the transition table the code enforces."""

import re
from pathlib import Path

from oms.orders.rules import TRANSITIONS, OrderStatus

DOC = Path(__file__).parents[2] / "docs" / "order-lifecycle.md"


def test_the_lifecycle_diagram_matches_the_transition_table():
    drawn = set(re.findall(r"^\s+([a-z_]+) --> ([a-z_]+)\s*$", DOC.read_text(), flags=re.MULTILINE))
    table = {(a.value, b.value) for a, targets in TRANSITIONS.items() for b in targets}
    assert drawn == table


def test_every_status_is_explained_in_the_doc():
    text = DOC.read_text()
    for status in OrderStatus:
        assert f"`{status.value}`" in text
