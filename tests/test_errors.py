"""A peer's gRPC status comes back as the libfed error it was raised as."""

from __future__ import annotations

import grpc
import pytest

from federation import errors


@pytest.mark.parametrize(
    "kind",
    [
        errors.InvalidArgument,
        errors.NotFound,
        errors.AlreadyExists,
        errors.FailedPrecondition,
        errors.Unauthenticated,
        errors.PermissionDenied,
        errors.Unavailable,
    ],
)
def test_each_error_survives_a_trip_over_grpc(kind):
    assert errors.error_for_status(kind.grpc_code) is kind


def test_a_status_we_never_send_has_no_meaning():
    assert errors.error_for_status(grpc.StatusCode.DATA_LOSS) is None
