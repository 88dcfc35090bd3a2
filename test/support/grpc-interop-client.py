"""A non-Node gRPC client (Debian's python3-grpcio, with python3-protobuf, which it depends on)
for test/grpc-interop.test.ts. grpc_tools is not assumed: message classes are built at run time
from the FileDescriptorSet the test writes (the server's .proto files as @grpc/proto-loader reads
them), so requests are encoded and responses decoded by the real protobuf runtime.

Reads one JSON document on stdin:
  {"addr": "127.0.0.1:N", "descriptors": "/path/set.pb", "ca": optional PEM path (TLS),
   "steps": [call | {"parallel": [call, ...]}]}
  call = {"id", "method": "/pkg.Service/Method", "kind": "unary" | "server_stream" | "bidi",
          "request_type", "response_type", "request": {...} (or "requests": [...] for bidi),
          "metadata": [[key, value], ...] (a "-bin" key's value is sent as its UTF-8 bytes),
          "timeout_ms": n, "compression": "gzip" | "deflate", "append_hex": bytes added after the
          encoded request}
Writes one JSON object per line, flushed as it happens:
  {"id", "event": "message", "message": {...}}            each message of a stream
  {"id", "event": "end", "code": "OK" | status name, "details", "malt_error_code",
   "response": {...} | null, "elapsed_ms"}                 once per call
Messages are proto3 JSON with the .proto field names (int64 as strings, enums by name).
"""
import json
import sys
import time

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory


def message_classes(path):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(path, 'rb') as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    factory = message_factory.MessageFactory(pool)
    cache = {}

    def cls(name):
        if name not in cache:
            cache[name] = factory.GetPrototype(pool.FindMessageTypeByName(name))
        return cache[name]
    return cls


def emit(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + '\n')
    sys.stdout.flush()


def to_json(msg):
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)


class Runner:
    def __init__(self, spec):
        self.cls = message_classes(spec['descriptors'])
        opts = [('grpc.enable_http_proxy', 0)]
        if spec.get('ca'):
            with open(spec['ca'], 'rb') as f:
                creds = grpc.ssl_channel_credentials(root_certificates=f.read())
            self.channel = grpc.secure_channel(spec['addr'], creds, options=opts)
        else:
            self.channel = grpc.insecure_channel(spec['addr'], options=opts)

    def encode(self, type_name, obj, append_hex=''):
        # append_hex: fields a newer client (or another encoder) may send, as raw wire bytes.
        return json_format.ParseDict(obj, self.cls(type_name)()).SerializeToString() + bytes.fromhex(append_hex)

    def decode(self, type_name, data):
        m = self.cls(type_name)()
        m.ParseFromString(data)
        return to_json(m)

    def kwargs(self, c):
        kw = {'metadata': [(k, v.encode() if k.endswith('-bin') else v) for k, v in c.get('metadata', [])]}
        if 'timeout_ms' in c:
            kw['timeout'] = c['timeout_ms'] / 1000.0
        if 'compression' in c:
            kw['compression'] = {'gzip': grpc.Compression.Gzip, 'deflate': grpc.Compression.Deflate}[c['compression']]
        return kw

    def start(self, c):
        """Starts a call; returns a function that waits for it and emits its lines."""
        t0 = time.monotonic()
        kind = c.get('kind', 'unary')
        ident = lambda b: b  # noqa: E731 (bytes in, bytes out: encoding is done here)
        if kind == 'unary':
            fut = self.channel.unary_unary(c['method'], request_serializer=ident, response_deserializer=ident) \
                .future(self.encode(c['request_type'], c['request'], c.get('append_hex', '')), **self.kwargs(c))

            def wait():
                try:
                    data = fut.result()
                    self.end(c, t0, grpc.StatusCode.OK, fut.details() or '', fut.trailing_metadata(), self.decode(c['response_type'], data))
                except grpc.RpcError as e:
                    self.end(c, t0, e.code(), e.details(), e.trailing_metadata(), None)
            return wait
        if kind == 'server_stream':
            it = self.channel.unary_stream(c['method'], request_serializer=ident, response_deserializer=ident)(
                self.encode(c['request_type'], c['request']), **self.kwargs(c))
        else:
            reqs = [self.encode(c['request_type'], r) for r in c['requests']]
            it = self.channel.stream_stream(c['method'], request_serializer=ident, response_deserializer=ident)(
                iter(reqs), **self.kwargs(c))

        def drain():
            try:
                for data in it:
                    emit({'id': c['id'], 'event': 'message', 'message': self.decode(c['response_type'], data)})
                self.end(c, t0, it.code(), it.details() or '', it.trailing_metadata(), None)
            except grpc.RpcError as e:
                self.end(c, t0, e.code(), e.details(), e.trailing_metadata(), None)
        return drain

    def end(self, c, t0, code, details, trailers, response):
        malt = [v for k, v in (trailers or ()) if k == 'malt-error-code']
        emit({'id': c['id'], 'event': 'end', 'code': code.name, 'details': details or '',
              'malt_error_code': malt[0] if malt else None, 'response': response,
              'elapsed_ms': round((time.monotonic() - t0) * 1000, 3)})

    def run(self, steps):
        for step in steps:
            calls = step['parallel'] if 'parallel' in step else [step]
            waits = [self.start(c) for c in calls]
            for w in waits:
                w()
        self.channel.close()


def main():
    spec = json.load(sys.stdin)
    Runner(spec).run(spec['steps'])


main()
