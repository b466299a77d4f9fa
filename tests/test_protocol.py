"""The protocol v1 contract: what partner libraries compile against."""

from __future__ import annotations

from libfed.v1 import common_pb2, coordinator_service_pb2, node_service_pb2

ISO_18626_STATUSES = [
    "RequestReceived", "ExpectToSupply", "WillSupply", "Loaned", "Overdue", "Recalled",
    "RetryPossible", "Unfilled", "CopyCompleted", "LoanCompleted", "CompletedWithoutReturn",
    "Cancelled",
]


def _snake(name: str) -> str:
    return "".join("_" + ch if ch.isupper() else ch for ch in name).lstrip("_").upper()


def test_every_iso18626_status_has_a_loan_status() -> None:
    for status in ISO_18626_STATUSES:
        assert f"LOAN_STATUS_{_snake(status)}" in common_pb2.LoanStatus.keys()


def test_every_requester_action_is_named() -> None:
    for action in ("Received", "ShippedReturn", "Cancel", "Renew"):
        assert f"REQUESTER_ACTION_{_snake(action)}" in common_pb2.RequesterAction.keys()


def test_both_services_are_in_the_package() -> None:
    node = node_service_pb2.DESCRIPTOR.services_by_name["LibraryNode"]
    coordinator = coordinator_service_pb2.DESCRIPTOR.services_by_name["Coordinator"]
    assert node.full_name == "libfed.v1.LibraryNode"
    assert {m.name for m in node.methods} >= {
        "SearchHoldings", "GetRecord", "GetAvailability", "OfferLoan", "UpdateLoanStatus",
    }
    assert {m.name for m in coordinator.methods} >= {
        "Heartbeat", "SubmitRequest", "GetRequest", "ListRequests", "CancelRequest",
        "ReportSupplierStatus", "ReportRequesterAction", "SearchCatalog", "GetNetworkStatus",
    }


def test_generated_code_is_not_stale() -> None:
    """Every .proto is older than its generated module (`make proto` keeps them so)."""
    from pathlib import Path

    folder = Path(common_pb2.__file__).parent
    for source in folder.glob("*.proto"):
        generated = folder / f"{source.stem}_pb2.py"
        assert generated.exists(), f"{generated.name} missing: run `make proto`"
        assert generated.stat().st_mtime >= source.stat().st_mtime, f"{source.name} changed: run `make proto`"
