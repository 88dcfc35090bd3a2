/**
 * A protocol-version bridge between @platformatic/kafka and librdkafka's mock cluster (test only).
 *
 * Why it exists: librdkafka 2.0.2's mock (Debian's kcat) speaks only the classic, pre-KIP-482
 * versions of the group and fetch APIs (Fetch ≤ 11, Metadata ≤ 2, FindCoordinator ≤ 2,
 * JoinGroup ≤ 5, SyncGroup ≤ 3, Heartbeat ≤ 3, LeaveGroup ≤ 1, OffsetCommit ≤ 7,
 * OffsetFetch ≤ 5, ApiVersions ≤ 2), while @platformatic/kafka implements only the versions of
 * Kafka 3.5+ (Fetch ≥ 12, Metadata ≥ 9, …, all "flexible"). The two share no version of any of
 * these APIs, so the client cannot talk to the mock directly.
 *
 * The bridge listens on 127.0.0.1, one port per mock broker, answers ApiVersions itself
 * (advertising exactly one version per API it translates), re-encodes each request from the
 * client's flexible version to the nearest classic version the mock has (same fields; the
 * later-version-only ones dropped or defaulted) and each response back, and rewrites broker
 * addresses in Metadata and FindCoordinator so the client keeps talking through it. Group
 * membership, assignment, offsets, fetch positions and records are all the mock's: the bridge
 * keeps no state beyond the request in flight. Produce v7 and ListOffsets v5 exist on both
 * sides and pass through unchanged.
 */
import net from 'node:net';
import { WireReader, WireWriter } from './kafka-wire.js';

type Ctx = { readonly members?: { id: string | null; instance: string | null }[]; readonly key?: string | null; readonly delayMs?: number };

interface Translation {
  readonly client: number;
  readonly upstream: number;
  /** The client's version is classic too (request header v1, response header v0). */
  readonly classic?: boolean;
  /** Re-encodes the request body; null: pass through unchanged (both sides classic). */
  readonly req: ((r: WireReader, w: WireWriter) => Ctx | void) | null;
  readonly res: ((r: WireReader, w: WireWriter, ctx: Ctx, addr: (host: string, port: number) => [string, number]) => void) | null;
}

const i32s = (r: WireReader) => () => r.int32();

const TRANSLATIONS: Readonly<Record<number, Translation>> = {
  0: { client: 7, upstream: 7, req: null, res: null }, // Produce
  2: { // ListOffsets v5 → v2: the mock writes v4/v5 partitions 4 bytes too long (after leader_epoch)
    client: 5, upstream: 2, classic: true,
    req(r, w) {
      w.int32(r.int32()).int8(r.int8());
      w.arr(r.arr(() => ({ name: r.str(), parts: r.arr(() => { const i = r.int32(); r.int32(); return [i, r.int64()] as const; }) })),
        (t) => w.str(t.name).arr(t.parts, ([i, ts]) => w.int32(i).int64(ts)));
    },
    res(r, w) {
      w.int32(r.int32());
      w.arr(r.arr(() => ({ name: r.str(), parts: r.arr(() => ({ i: r.int32(), err: r.int16(), ts: r.int64(), off: r.int64() })) })),
        (t) => w.str(t.name).arr(t.parts, (p) => w.int32(p.i).int16(p.err).int64(p.ts).int64(p.off).int32(-1)));
    },
  },
  1: { // Fetch v12 → v11
    client: 12, upstream: 11,
    req(r, w) {
      w.int32(r.int32()).int32(r.int32()).int32(r.int32()).int32(r.int32()).int8(r.int8()).int32(r.int32()).int32(r.int32());
      const topics = r.carr(() => {
        const topic = r.cstr();
        const parts = r.carr(() => {
          const p = { partition: r.int32(), epoch: r.int32(), offset: r.int64() };
          r.int32(); // last_fetched_epoch (v12+)
          const rest = { logStart: r.int64(), maxBytes: r.int32() };
          r.tags();
          return { ...p, ...rest };
        });
        r.tags();
        return { topic, parts };
      });
      w.arr(topics, (t) => w.str(t.topic).arr(t.parts, (p) => w.int32(p.partition).int32(p.epoch).int64(p.offset).int64(p.logStart).int32(p.maxBytes)));
      const forgotten = r.carr(() => { const t = r.cstr(); const ps = r.carr(i32s(r)); r.tags(); return { t, ps }; });
      w.arr(forgotten, (f) => w.str(f.t).arr(f.ps, (p) => w.int32(p)));
      w.str(r.cstr());
    },
    res(r, w) {
      w.int32(r.int32()).int16(r.int16()).int32(r.int32());
      w.carr(r.arr(() => ({ topic: r.str(), parts: r.arr(() => ({
        index: r.int32(), error: r.int16(), hw: r.int64(), lso: r.int64(), logStart: r.int64(),
        aborted: r.arr(() => [r.int64(), r.int64()] as const), preferred: r.int32(), records: r.bytes(),
      })) })), (t) => {
        w.cstr(t.topic).carr(t.parts, (p) => {
          w.int32(p.index).int16(p.error).int64(p.hw).int64(p.lso).int64(p.logStart);
          w.carr(p.aborted, ([pid, first]) => w.int64(pid).int64(first).tags());
          w.int32(p.preferred).cbytes(p.records).tags();
        }).tags();
      }).tags();
    },
  },
  3: { // Metadata v9 → v2
    client: 9, upstream: 2,
    req(r, w) {
      w.arr(r.carr(() => { const n = r.cstr(); r.tags(); return n; }), (n) => w.str(n));
    },
    res(r, w, _ctx, addr) {
      w.int32(0);
      w.carr(r.arr(() => ({ id: r.int32(), host: r.str() as string, port: r.int32(), rack: r.str() })), (b) => {
        const [host, port] = addr(b.host, b.port);
        w.int32(b.id).cstr(host).int32(port).cstr(b.rack).tags();
      });
      w.cstr(r.str()).int32(r.int32());
      w.carr(r.arr(() => ({ error: r.int16(), name: r.str(), internal: r.bool(), parts: r.arr(() => ({
        error: r.int16(), index: r.int32(), leader: r.int32(), replicas: r.arr(i32s(r)), isr: r.arr(i32s(r)),
      })) })), (t) => {
        w.int16(t.error).cstr(t.name).bool(t.internal);
        w.carr(t.parts, (p) => {
          w.int16(p.error).int32(p.index).int32(p.leader).int32(-1);
          w.carr(p.replicas, (x) => w.int32(x)).carr(p.isr, (x) => w.int32(x)).carr([], () => undefined).tags();
        });
        w.int32(-2147483648).tags();
      });
      w.int32(-2147483648).tags();
    },
  },
  8: { // OffsetCommit v8 → v7
    client: 8, upstream: 7,
    req(r, w) {
      w.str(r.cstr()).int32(r.int32()).str(r.cstr()).str(r.cstr());
      w.arr(r.carr(() => {
        const name = r.cstr();
        const parts = r.carr(() => { const p = { i: r.int32(), off: r.int64(), ep: r.int32(), meta: r.cstr() }; r.tags(); return p; });
        r.tags();
        return { name, parts };
      }), (t) => w.str(t.name).arr(t.parts, (p) => w.int32(p.i).int64(p.off).int32(p.ep).str(p.meta)));
    },
    res(r, w) {
      w.int32(r.int32());
      w.carr(r.arr(() => ({ name: r.str(), parts: r.arr(() => [r.int32(), r.int16()] as const) })), (t) => {
        w.cstr(t.name).carr(t.parts, ([i, e]) => w.int32(i).int16(e).tags()).tags();
      }).tags();
    },
  },
  9: { // OffsetFetch v8 → v5 (one group per request, as the client sends)
    client: 8, upstream: 5,
    req(r, w) {
      const groups = r.carr(() => {
        const id = r.cstr();
        const topics = r.carr(() => { const n = r.cstr(); const ps = r.carr(i32s(r)); r.tags(); return { n, ps }; });
        r.tags();
        return { id, topics };
      }) ?? [];
      const g = groups[0];
      if (!g || groups.length !== 1) throw new Error(`bridge: OffsetFetch with ${groups.length} groups`);
      w.str(g.id).arr(g.topics, (t) => w.str(t.n).arr(t.ps, (p) => w.int32(p)));
      return { key: g.id };
    },
    res(r, w, ctx) {
      w.int32(r.int32());
      const topics = r.arr(() => ({ name: r.str(), parts: r.arr(() => ({ i: r.int32(), off: r.int64(), ep: r.int32(), meta: r.str(), err: r.int16() })) }));
      const error = r.int16();
      w.carr([0], () => {
        w.cstr(ctx.key ?? null);
        w.carr(topics, (t) => w.cstr(t.name).carr(t.parts, (p) => w.int32(p.i).int64(p.off).int32(p.ep).cstr(p.meta).int16(p.err).tags()).tags());
        w.int16(error).tags();
      }).tags();
    },
  },
  10: { // FindCoordinator v4 → v2 (one key per request, as the client sends)
    client: 4, upstream: 2,
    req(r, w) {
      const type = r.int8();
      const keys = r.carr(() => r.cstr()) ?? [];
      if (keys.length !== 1) throw new Error(`bridge: FindCoordinator with ${keys.length} keys`);
      w.str(keys[0] ?? null).int8(type);
      return { key: keys[0] ?? null };
    },
    res(r, w, ctx, addr) {
      const throttle = r.int32(), error = r.int16(), message = r.str(), node = r.int32();
      const [host, port] = addr(r.str() as string, r.int32());
      w.int32(throttle).carr([0], () => w.cstr(ctx.key ?? null).int32(node).cstr(host).int32(port).int16(error).cstr(message).tags()).tags();
    },
  },
  11: { // JoinGroup v6 → v5
    client: 6, upstream: 5,
    req(r, w) {
      w.str(r.cstr()).int32(r.int32()).int32(r.int32()).str(r.cstr()).str(r.cstr()).str(r.cstr());
      w.arr(r.carr(() => { const p = { name: r.cstr(), meta: r.cbytes() }; r.tags(); return p; }), (p) => w.str(p.name).bytes(p.meta));
    },
    res(r, w) {
      w.int32(r.int32()).int16(r.int16()).int32(r.int32()).cstr(r.str()).cstr(r.str()).cstr(r.str());
      w.carr(r.arr(() => ({ id: r.str(), inst: r.str(), meta: r.bytes() })), (m) => w.cstr(m.id).cstr(m.inst).cbytes(m.meta).tags()).tags();
    },
  },
  12: { // Heartbeat v4 → v3
    client: 4, upstream: 3,
    req(r, w) { w.str(r.cstr()).int32(r.int32()).str(r.cstr()).str(r.cstr()); },
    res(r, w) { w.int32(r.int32()).int16(r.int16()).tags(); },
  },
  13: { // LeaveGroup v4 → v1 (one member, as the client sends)
    client: 4, upstream: 1,
    req(r, w) {
      const group = r.cstr();
      const members = r.carr(() => { const m = { id: r.cstr(), instance: r.cstr() }; r.tags(); return m; }) ?? [];
      w.str(group).str(members[0]?.id ?? '');
      return { members };
    },
    res(r, w, ctx) {
      const throttle = r.int32(), error = r.int16();
      w.int32(throttle).int16(error).carr(ctx.members ?? [], (m) => w.cstr(m.id).cstr(m.instance).int16(error).tags()).tags();
    },
  },
  14: { // SyncGroup v4 → v3
    client: 4, upstream: 3,
    req(r, w) {
      w.str(r.cstr()).int32(r.int32()).str(r.cstr()).str(r.cstr());
      const assignments = r.carr(() => { const a = { id: r.cstr(), data: r.cbytes() }; r.tags(); return a; });
      w.arr(assignments, (a) => w.str(a.id).bytes(a.data));
      // The mock completes a sync as soon as the leader's SyncGroup (which carries every member's
      // assignment) arrives, then answers a follower's later SyncGroup with INVALID_REQUEST
      // (a real coordinator waits for it). Hold the leader's back so the followers' arrive first.
      return (assignments?.length ?? 0) > 1 ? { delayMs: 300 } : {};
    },
    res(r, w) { w.int32(r.int32()).int16(r.int16()).cbytes(r.bytes()).tags(); },
  },
};

const API_VERSIONS = 18;

function apiVersionsResponse(correlationId: number): Buffer {
  const body = new WireWriter().int32(correlationId).int16(0);
  const keys = [...Object.entries(TRANSLATIONS).map(([k, t]) => [Number(k), t.client] as const), [API_VERSIONS, 3] as const];
  body.carr(keys, ([k, v]) => body.int16(k).int16(v).int16(v).tags()).int32(0).tags();
  return frame(body.done());
}

function frame(payload: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(payload.length);
  return Buffer.concat([size, payload]);
}

/** Splits a byte stream into Kafka frames (int32 size + payload). */
function framer(onFrame: (payload: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const size = pending.readInt32BE(0);
      if (pending.length < 4 + size) break;
      onFrame(pending.subarray(4, 4 + size));
      pending = pending.subarray(4 + size);
    }
  };
}

export interface KafkaBridge {
  /** The bridge's broker addresses (127.0.0.1:<port>), one per mock broker, in the mock's order. */
  readonly bootstrap: string[];
  /** Requests seen per API key (to check what a client used). */
  readonly seen: Map<number, number>;
  /** Translation failures (each closed the client's connection); a test expects none. */
  readonly errors: string[];
  close(): Promise<void>;
}

/** Starts one 127.0.0.1 listener per upstream broker (`host:port` of the mock). */
export async function startKafkaBridge(upstream: readonly string[]): Promise<KafkaBridge> {
  const local = new Map<string, number>();
  const servers: net.Server[] = [];
  const sockets = new Set<net.Socket>();
  const seen = new Map<number, number>();
  const errors: string[] = [];
  const addr = (host: string, port: number): [string, number] => {
    const p = local.get(`${host}:${port}`);
    if (p === undefined) throw new Error(`bridge: unknown broker ${host}:${port}`);
    return ['127.0.0.1', p];
  };

  function serveClient(client: net.Socket, target: string): void {
    const [host, port] = target.split(':') as [string, string];
    const up = net.connect(Number(port), host);
    for (const s of [client, up]) { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => { client.destroy(); up.destroy(); }); }
    client.on('close', () => up.destroy());
    up.on('close', () => client.destroy());
    const inflight = new Map<number, { key: number; t: Translation; ctx: Ctx }>();
    const fail = (err: unknown): void => { errors.push(String(err)); client.destroy(); up.destroy(); };
    client.on('data', framer((payload) => { try {
      const r = new WireReader(payload);
      const key = r.int16(), version = r.int16(), correlationId = r.int32(), clientId = r.str();
      seen.set(key, (seen.get(key) ?? 0) + 1);
      if (key === API_VERSIONS) { client.write(apiVersionsResponse(correlationId)); return; }
      const t = TRANSLATIONS[key];
      if (!t || t.client !== version) { fail(`bridge: API ${key} v${version} not bridged`); return; }
      const w = new WireWriter().int16(key).int16(t.upstream).int32(correlationId).str(clientId);
      let ctx: Ctx = {};
      if (t.req) {
        if (!t.classic) r.tags(); // request header v2
        ctx = t.req(r, w) ?? {};
      } else {
        w.raw(r.rest);
      }
      inflight.set(correlationId, { key, t, ctx });
      const out = frame(w.done());
      if (ctx.delayMs) setTimeout(() => up.write(out), ctx.delayMs);
      else up.write(out);
    } catch (err) { fail(err); } }));
    up.on('data', framer((payload) => { try {
      const r = new WireReader(payload);
      const correlationId = r.int32();
      const req = inflight.get(correlationId);
      if (!req) { fail(`bridge: response to unknown request ${correlationId}`); return; }
      inflight.delete(correlationId);
      const w = new WireWriter().int32(correlationId);
      if (req.t.res) {
        if (!req.t.classic) w.tags(); // response header v1
        req.t.res(r, w, req.ctx, addr);
      } else {
        w.raw(r.rest);
      }
      client.write(frame(w.done()));
    } catch (err) { fail(err); } }));
  }

  for (const target of upstream) {
    const server = net.createServer((c) => {
      try { serveClient(c, target); } catch { c.destroy(); }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    local.set(target, (server.address() as net.AddressInfo).port);
  }
  return {
    bootstrap: upstream.map((u) => `127.0.0.1:${local.get(u) as number}`),
    seen,
    errors,
    async close() {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
