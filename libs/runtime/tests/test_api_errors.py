"""The API error root: its envelope, and what a subclass may override."""

from __future__ import annotations

from typing import ClassVar

from hub_runtime.api_errors import ApiError


class _GoneError(ApiError):
    status_code: ClassVar[int] = 410
    code = "gone"


def test_the_root_is_a_500_internal_error_with_no_headers() -> None:
    error = ApiError("Something went wrong.")
    assert (error.status_code, error.code, error.retryable, error.headers) == (
        500,
        "internal_error",
        False,
        {},
    )
    assert error.body() == {"error": {"code": "internal_error", "message": "Something went wrong."}}
    assert str(error) == "Something went wrong."


def test_a_leaf_keeps_its_code_unless_one_is_given() -> None:
    assert _GoneError("Gone.").body()["error"]["code"] == "gone"
    assert _GoneError("Gone.", code="moved").body()["error"]["code"] == "moved"
    assert _GoneError("Gone.").status_code == 410


def test_the_field_appears_only_when_named() -> None:
    error = ApiError("Too long.", code="invalid_request", field="name", headers={"X-A": "1"})
    assert error.body() == {
        "error": {"code": "invalid_request", "message": "Too long.", "field": "name"}
    }
    assert error.headers == {"X-A": "1"}
