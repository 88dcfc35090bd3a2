"""A non-Node gRPC client (python3-grpcio) for the exact-values test: calls malt.v1.Serving/Get
with raw bytes and decodes the reply with a small hand-written protobuf wire decoder, printing
{feature: {"status": n, "int64": "...", "seconds": "...", "nanos": n}} as JSON."""
import json, sys
import grpc


def varint(b, i):
    r = s = 0
    while True:
        x = b[i]; i += 1
        r |= (x & 0x7F) << s; s += 7
        if x < 0x80:
            return r, i


def fields(b):
    i, out = 0, []
    while i < len(b):
        tag, i = varint(b, i)
        f, w = tag >> 3, tag & 7
        if w == 0:
            v, i = varint(b, i)
        elif w == 2:
            n, i = varint(b, i); v = b[i:i + n]; i += n
        elif w == 1:
            v = b[i:i + 8]; i += 8
        else:
            raise ValueError('wire type %d' % w)
        out.append((f, v))
    return out


def signed(u):
    return u - (1 << 64) if u >= (1 << 63) else u


def enc_str(field, s):
    d = s.encode()
    return bytes([field << 3 | 2, len(d)]) + d


def main():
    addr, entity, dataset = sys.argv[1:4]
    ch = grpc.insecure_channel(addr, options=[('grpc.enable_http_proxy', 0)])
    get = ch.unary_unary('/malt.v1.Serving/Get')
    reply = get(enc_str(1, entity) + enc_str(2, dataset), timeout=5)
    result = {}
    for f, ds in fields(reply):
        if f != 2:
            continue
        for g, entry in fields(ds):
            if g != 4:
                continue
            e = dict(fields(entry))
            name = e[1].decode()
            feat = dict(fields(e.get(2, b'')))
            out = {'status': feat.get(2, 0)}
            for k, v in fields(feat.get(1, b'')):
                if k == 1:
                    out['int64'] = str(signed(v))
                elif k == 5:
                    ts = dict(fields(v))
                    out['seconds'] = str(signed(ts.get(1, 0)))
                    out['nanos'] = ts.get(2, 0)
                elif k == 6:
                    out['list'] = [x.decode() for _, x in fields(v)]
            result[name] = out
    print(json.dumps(result))


main()
