"""gRPC servers of libfed, made one way."""

from __future__ import annotations

import grpc


def grpc_server() -> grpc.aio.Server:
    """A grpc.aio server that owns its port.

    gRPC sets SO_REUSEPORT by default, so a second process could bind a port in
    use and silently take about half of its calls (two nodes configured with the
    same port would answer for each other's holdings). Without it, the second
    process gets "address in use" and says so.
    """
    return grpc.aio.server(options=[("grpc.so_reuseport", 0)])
