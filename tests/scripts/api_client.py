#!/usr/bin/env python3
"""Drives a running geneve-gw's control API from Python (tests/e2e_api.rs).

Usage: api_client.py SOCKET PROTO_DIR STUB_DIR

Generates the stubs from PROTO_DIR/geneve_gw.proto with grpcio-tools into
STUB_DIR, then over the Unix socket: adds a tunnel and a route and reads
them back, checks a refusal's status and message, lists with paging, and
sends a malformed message (bytes that are no protobuf) that must get an
error while the gateway keeps answering. Prints "python client: ok".
"""
import os
import sys

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from api_stubs import connect  # noqa: E402


def main():
    socket, proto_dir, stubs = sys.argv[1:4]
    pb, rpc, ch = connect(socket, proto_dir, stubs)
    tunnels = rpc.TunnelsStub(ch)
    routes = rpc.RoutesStub(ch)
    txn = rpc.TransactionsStub(ch)

    r = tunnels.Add(pb.Tunnel(name="py1", remote="198.18.3.1", vni=3001, ttl="inherit"))
    assert "tunnels +1 -0 ~0" in r.summary, r.summary
    t = tunnels.Get(pb.TunnelName(name="py1"))
    assert (t.remote, t.vni, t.ttl, t.udp_port) == ("198.18.3.1", 3001, "inherit", 6081), t
    routes.Add(pb.Route(prefix="198.31.0.0/16", tunnel="py1"))
    routes.Add(pb.Route(prefix="2001:db8:31::/48", tunnel="py1"))
    got = routes.Get(pb.RoutePrefix(prefix="2001:db8:31::/48"))
    assert got.tunnel == "py1", got

    # Paging: one entry a page until the token is empty.
    seen, token = [], ""
    while True:
        page = routes.List(pb.ListRequest(page_size=1, page_token=token))
        seen += [x.prefix for x in page.routes]
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(["198.19.0.0/16", "198.31.0.0/16", "2001:db8:31::/48"]), seen

    # Refusals: a dangling reference, and a transaction undone whole.
    try:
        routes.Add(pb.Route(prefix="198.32.0.0/16", tunnel="nope"))
        raise AssertionError("a route to a missing tunnel was taken")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION, e
        assert "no tunnel named `nope`" in e.details(), e.details()
    try:
        txn.Apply(pb.Transaction(changes=[
            pb.Change(add_tunnel=pb.Tunnel(name="py2", remote="198.18.3.2", vni=3002)),
            pb.Change(delete_route=pb.RoutePrefix(prefix="198.99.0.0/16")),
        ]))
        raise AssertionError("a transaction deleting a missing route was taken")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.NOT_FOUND, e
        assert e.details().startswith("changes[1].delete_route.prefix"), e.details()
    try:
        tunnels.Get(pb.TunnelName(name="py2"))
        raise AssertionError("py2 of the refused transaction exists")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.NOT_FOUND, e

    # Option policies: none configured; one naming an unregistered option
    # is a dangling reference.
    policies = rpc.OptionPoliciesStub(ch)
    assert policies.List(pb.ListRequest()).total == 0
    try:
        policies.Add(pb.OptionPolicy(kind="require", option="nope", vni=100))
        raise AssertionError("a policy on an unregistered option was taken")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.FAILED_PRECONDITION, e
        assert "no option named `nope`" in e.details(), e.details()

    # A malformed message: bytes that are no Tunnel.
    raw = ch.unary_unary("/geneve_gw.v1.Tunnels/Add",
                         request_serializer=None, response_deserializer=None)
    try:
        raw(b"\xff\xff\xff\xff\x0f\x0a\x80")
        raise AssertionError("a malformed message was taken")
    except grpc.RpcError as e:
        assert e.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.INVALID_ARGUMENT), e
    # The gateway still answers, with nothing added.
    assert len(tunnels.List(pb.ListRequest()).tunnels) == 2
    print("python client: ok")


if __name__ == "__main__":
    main()
