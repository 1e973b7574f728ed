"""The capture's statements stay inside psycopg's parse cache: a statement longer than 4,096 bytes
would be parsed for placeholders again on every order (psycopg._queries.MAX_CACHED_STATEMENT_LENGTH)."""

from oms.orders import capture_pg


def test_the_capture_statements_fit_psycopgs_parse_cache():
    assert len(capture_pg._READ_SQL) <= 4096
    assert len(capture_pg._WRITE_SQL) <= 4096
