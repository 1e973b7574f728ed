"""Imports every context's models so Base.metadata knows them all (Alembic, tests)."""

from oms.auth import model as auth_model  # noqa: F401
from oms.catalog import model as catalog_model  # noqa: F401
from oms.channels import model as channels_model  # noqa: F401
from oms.events import model as events_model  # noqa: F401
from oms.feedback import model as feedback_model  # noqa: F401
from oms.idempotency import model as idempotency_model  # noqa: F401
from oms.inventory import model as inventory_model  # noqa: F401
from oms.notifications import model as notifications_model  # noqa: F401
from oms.notifications import webhook_model as webhooks_model  # noqa: F401
from oms.orders import model as orders_model  # noqa: F401
from oms.packing import model as packing_model  # noqa: F401
from oms.picking import model as picking_model  # noqa: F401
from oms.returns import model as returns_model  # noqa: F401
from oms.shipping import model as shipping_model  # noqa: F401
