"""oms: an order management system for retail."""
