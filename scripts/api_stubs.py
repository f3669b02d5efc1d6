"""The control API from Python: stubs generated from the .proto and a
channel to a running geneve-gw's Unix socket (scripts/bench_api.py and
tests/scripts/api_client.py use it; needs grpcio and grpcio-tools)."""
import os
import sys

import grpc
from grpc_tools import protoc


def connect(socket, proto_dir, stubs):
    """Generates the stubs from PROTO_DIR/geneve_gw.proto into the folder
    STUBS with grpcio-tools and opens a channel to SOCKET: (pb, rpc, channel)
    with pb the messages' module and rpc the services' stubs."""
    os.makedirs(stubs, exist_ok=True)
    rc = protoc.main([
        "protoc", f"-I{proto_dir}", f"--python_out={stubs}",
        f"--grpc_python_out={stubs}", os.path.join(proto_dir, "geneve_gw.proto"),
    ])
    assert rc == 0, f"protoc failed: {rc}"
    sys.path.insert(0, stubs)
    import geneve_gw_pb2 as pb
    import geneve_gw_pb2_grpc as rpc

    # grpc sends the socket path as :authority, which is no valid HTTP/2
    # authority (the server's h2 resets the stream): name one.
    ch = grpc.insecure_channel(f"unix:{socket}", options=[("grpc.default_authority", "localhost")])
    return pb, rpc, ch
