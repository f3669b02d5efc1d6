#!/usr/bin/env python3
"""Times the control API of a running geneve-gw, one call at a time
(scripts/bench-api.sh starts the gateway and calls this).

Usage: bench_api.py SOCKET PROTO_DIR STUB_DIR ROUTES TUNNELS

The gateway runs a file of scripts/scale-config.py --mode l3 (tunnels t0..,
routes 10.x.y.0/24). Prints one CSV line per operation:
routes,op,calls,median_ms,p90_ms,max_ms
"""
import statistics
import sys
import time

import grpc

from api_stubs import connect


def main():
    socket, proto_dir, stubs, routes_n, tunnels_n = sys.argv[1:6]
    routes_n, tunnels_n = int(routes_n), int(tunnels_n)
    pb, rpc, ch = connect(socket, proto_dir, stubs)
    tunnels = rpc.TunnelsStub(ch)
    routes = rpc.RoutesStub(ch)
    conf = rpc.ConfigurationStub(ch)
    results = {}

    def timed(op, f):
        t0 = time.perf_counter()
        r = f()
        results.setdefault(op, []).append((time.perf_counter() - t0) * 1e3)
        return r

    # The first call connects, and a large gateway's control thread may
    # still be busy just after the start: a get first, timed apart. Then
    # the first change (the editor's indexes are made at start).
    timed("first call (a tunnel get)", lambda: tunnels.Get(pb.TunnelName(name="t0")))
    timed("first change after start", lambda: routes.Add(pb.Route(prefix="198.19.255.1/32", tunnel="t0")))
    routes.Delete(pb.RoutePrefix(prefix="198.19.255.1/32"))
    new = [f"198.19.{i // 256}.{i % 256}/32" for i in range(200)]
    for i, p in enumerate(new):
        timed("route add", lambda: routes.Add(pb.Route(prefix=p, tunnel=f"t{i % tunnels_n}")))
    for p in new:
        timed("route delete", lambda: routes.Delete(pb.RoutePrefix(prefix=p)))
    # Routes of the file: moved to another tunnel and back.
    have = min(routes_n, 200)
    page = routes.List(pb.ListRequest(page_size=have))
    for r in page.routes:
        timed("route move", lambda: routes.Add(pb.Route(prefix=r.prefix, tunnel="t0" if r.tunnel != "t0" else "t1")))
    for i in range(50):
        n = f"bench{i}"
        timed("tunnel add", lambda: tunnels.Add(pb.Tunnel(name=n, remote=f"198.18.2.{i + 1}", vni=2000 + i)))
        routes.Add(pb.Route(prefix=f"198.19.254.{i}/32", tunnel=n))
    for i in range(50):
        n = f"bench{i}"
        routes.Delete(pb.RoutePrefix(prefix=f"198.19.254.{i}/32"))
        # The last tunnel (which has a route) takes this one's place.
        timed("tunnel delete", lambda: tunnels.Delete(pb.TunnelName(name=n)))
    for i in range(100):
        timed("tunnel get", lambda: tunnels.Get(pb.TunnelName(name=f"t{(i * 7) % tunnels_n}")))
    # Pages of 1000 routes: the first 20, then 20 from the middle (a token
    # is the last prefix returned; the middle one is a prefix of the file).
    token = ""
    for _ in range(20):
        page = timed("route list page (1000, from the start)",
                     lambda: routes.List(pb.ListRequest(page_size=1000, page_token=token)))
        token = page.next_page_token
    # The file's routes fill 10.0.0.0/8 in order: about half lie after this.
    token = "10.128.0.0/32"
    try:
        for _ in range(20):
            page = timed("route list page (1000, from the middle)",
                         lambda: routes.List(pb.ListRequest(page_size=1000, page_token=token)))
            token = page.next_page_token or token
    except grpc.RpcError as e:
        # A build whose tokens are positions takes no prefix.
        print(f"# route list from the middle: {e.details()}", file=sys.stderr)
        results.pop("route list page (1000, from the middle)", None)
    # A reload of the same file, then the first change after it.
    timed("reload (same file)", lambda: conf.Reload(pb.Empty()))
    timed("first change after reload", lambda: routes.Add(pb.Route(prefix="198.19.255.2/32", tunnel="t0")))
    routes.Delete(pb.RoutePrefix(prefix="198.19.255.2/32"))

    for op, v in results.items():
        v = sorted(v)
        p90 = v[min(len(v) - 1, int(len(v) * 0.9))]
        print(f"{routes_n},{op},{len(v)},{statistics.median(v):.3f},{p90:.3f},{v[-1]:.3f}")


if __name__ == "__main__":
    main()
