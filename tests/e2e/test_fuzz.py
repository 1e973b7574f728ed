"""Schemathesis throws schema-shaped and malformed requests at every operation: no 5xx, ever, and
every error in the house shape."""

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

FUZZ = hypothesis_settings(
    max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
)


def test_no_request_makes_the_server_fail(settings, db, api, app):
    api.warehouse("NJ1")
    api.product("MUG-1")
    api.channel("web")
    api.receive("NJ1", "MUG-1", 1000)
    headers = {"Authorization": f"Bearer {api.token}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    statuses: list[int] = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @FUZZ
        def no_server_error(case):
            response = case.call(headers=headers)
            statuses.append(response.status_code)
            where = f"{case.method} {case.formatted_path} {case.body!r}"
            assert response.status_code < 500, f"{where}: {response.text}"
            if response.status_code >= 400:
                body = response.json()
                assert set(body) >= {"error", "detail"}, f"{where}: {body}"
                assert body["error"].replace("_", "").isalpha() and body["error"].islower(), body

        no_server_error()
    # The fuzzer really reached the app: many calls, and both accepted and refused requests.
    assert len(statuses) > 5 * len(operations)
    assert any(s < 300 for s in statuses) and any(400 <= s < 500 for s in statuses)
