from oms.db.base import Base, Money, PkId, utcnow
from oms.db.engine import Database

__all__ = ["Base", "Database", "Money", "PkId", "utcnow"]
