"""The migrations build exactly the schema the models describe, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import oms.db.models  # noqa: F401
from oms.db.base import Base


def test_the_migrated_schema_matches_the_models(db):
    with db.write_engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_timestamps_come_back_in_utc(api):
    api.warehouse("NJ1")
    created = api.ok(api.get("/warehouses/NJ1"))["created_at"]
    assert created.endswith("Z") or created.endswith("+00:00")
