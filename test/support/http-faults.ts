/**
 * Small real HTTP servers on 127.0.0.1 that misbehave the way object stores do: a proxy that
 * answers some requests itself (503 SlowDown, 403 …) and forwards the rest, with optional delay;
 * a server that accepts connections and never answers; one that sends headers then stalls.
 */
import http from 'node:http';
import net from 'node:net';

export interface FaultyServer {
  readonly endpoint: string;
  /** Requests received (forwarded or answered). */
  readonly seen: ReadonlyArray<{ method: string; url: string; headers: http.IncomingHttpHeaders }>;
  /** Most requests in flight at the same time. */
  readonly maxConcurrent: number;
  stop(): Promise<void>;
}

/** What to do with request n (0-based): answer it with this status/body, or forward it (null). */
export type FaultPlan = (n: number, req: http.IncomingMessage) => { status: number; body: string } | null;

export function s3ErrorXml(code: string, message: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>test</RequestId></Error>`;
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

export async function startFaultProxy(upstream: string, plan: FaultPlan, delayMs = 0): Promise<FaultyServer> {
  const target = new URL(upstream);
  const seen: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders }> = [];
  let active = 0;
  let maxConcurrent = 0;
  const server = http.createServer((req, res) => {
    const n = seen.length;
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    active += 1;
    maxConcurrent = Math.max(maxConcurrent, active);
    res.on('close', () => { active -= 1; });
    const handle = (): void => {
      const fault = plan(n, req);
      if (fault !== null) {
        req.resume();
        res.writeHead(fault.status, { 'content-type': 'application/xml' }).end(fault.body);
        return;
      }
      const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    if (delayMs > 0) setTimeout(handle, delayMs);
    else handle();
  });
  const port = await listen(server);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    get maxConcurrent() { return maxConcurrent; },
    stop: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Accepts connections and never answers (`headersThenStall`: sends a 200 header, never the body). */
export async function startSilentServer(headersThenStall = false): Promise<FaultyServer & { connections: number }> {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((sock) => {
    connections += 1;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    if (headersThenStall) {
      sock.once('data', () => sock.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: application/octet-stream\r\n\r\nabc'));
    }
  });
  const port = await listen(server);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen: [],
    maxConcurrent: 0,
    get connections() { return connections; },
    stop: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}
