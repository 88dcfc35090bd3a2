/**
 * librdkafka's mock cluster for tests, as Debian's kcat starts it: `kcat -P -t <topic>
 * -b 127.0.0.1:1 -X test.mock.num.brokers=3 -X debug=mock`, kept alive on its stdin. It logs
 * `bootstrap.servers=127.0.0.1:<port>,…` (its brokers listen on 127.0.0.1 only) and implements
 * topics (auto-created, 4 partitions), produce/fetch, consumer groups (classic protocol,
 * client-side assignment) and committed offsets. It is not Apache Kafka: see docs/kafka.md.
 *
 * `bootstrap` is the address of the version bridge (kafka-bridge.ts) that lets
 * @platformatic/kafka talk to it; `mockBootstrap` the mock itself, for kcat.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { type KafkaBridge, startKafkaBridge } from './kafka-bridge.js';

export interface KafkaMock {
  /** Bridge addresses for @platformatic/kafka (and so for malt). */
  readonly bootstrap: string[];
  /** The mock's own brokers, for kcat. */
  readonly mockBootstrap: string;
  readonly bridge: KafkaBridge;
  readonly pid: number;
  /** Produces `records` to `topic` with kcat (key TAB value per line; no tabs or newlines inside). */
  produce(topic: string, records: readonly { key?: string; value: string; partition?: number }[]): void;
  /** Every record of `topic` from the beginning, with kcat: key, value, headers (`k=v,…`). */
  readAll(topic: string): { key: string; value: string; headers: Record<string, string>; partition: number; offset: number }[];
  close(): Promise<void>;
}

export function kcatAvailable(): boolean {
  return spawnSync('kcat', ['-V'], { stdio: 'ignore' }).status === 0;
}

/** Starts the mock (3 brokers) and the bridge; `topic` is created on start. */
export async function startKafkaMock(topic: string): Promise<KafkaMock> {
  const child: ChildProcess = spawn('kcat', ['-P', '-t', topic, '-b', '127.0.0.1:1', '-X', 'test.mock.num.brokers=3', '-X', 'debug=mock'], { stdio: ['pipe', 'ignore', 'pipe'] });
  const mockBootstrap = await new Promise<string>((resolve, reject) => {
    let log = '';
    let found = false;
    const timer = setTimeout(() => reject(new Error(`kcat mock did not report its brokers: ${log.slice(-2000)}`)), 10_000);
    child.once('exit', (code) => reject(new Error(`kcat exited ${code}: ${log.slice(-2000)}`)));
    child.stderr?.on('data', (d: Buffer) => {
      if (found) return; // drained from now on: the mock logs every request
      log += d.toString();
      const m = /bootstrap\.servers=(127\.0\.0\.1:\d+(?:,127\.0\.0\.1:\d+)*)/.exec(log);
      if (m) {
        found = true;
        log = '';
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
  });
  // The mock creates topics when asked for their metadata; make sure this one exists.
  spawnSync('kcat', ['-L', '-t', topic, '-b', mockBootstrap], { stdio: 'ignore', timeout: 10_000 });
  const bridge = await startKafkaBridge(mockBootstrap.split(','));
  return {
    bootstrap: bridge.bootstrap,
    mockBootstrap,
    bridge,
    pid: child.pid as number,
    produce(t, records) {
      const byPartition = new Map<number, string[]>();
      for (const r of records) {
        if (/[\t\n]/.test(r.value) || /[\t\n]/.test(r.key ?? '')) throw new Error('produce: no tab or newline in keys or values');
        const p = r.partition ?? -1;
        byPartition.set(p, [...(byPartition.get(p) ?? []), `${r.key ?? ''}\t${r.value}`]);
      }
      for (const [p, lines] of byPartition) {
        const args = ['-P', '-t', t, '-b', mockBootstrap, '-K', '\t', '-X', 'linger.ms=1'];
        if (p >= 0) args.push('-p', String(p));
        const res = spawnSync('kcat', args, { input: `${lines.join('\n')}\n`, timeout: 20_000 });
        if (res.status !== 0) throw new Error(`kcat -P failed (${res.status}): ${res.stderr.toString()}`);
      }
    },
    readAll(t) {
      const res = spawnSync('kcat', ['-C', '-t', t, '-b', mockBootstrap, '-o', 'beginning', '-e', '-q', '-f', '%p\t%o\t%k\t%h\t%s\n'], { timeout: 20_000, maxBuffer: 64 * 1024 * 1024 });
      if (res.status !== 0) throw new Error(`kcat -C failed (${res.status}): ${res.stderr.toString()}`);
      return res.stdout.toString().split('\n').filter((l) => l !== '').map((line) => {
        const [p, o, key, h, ...value] = line.split('\t');
        const headers: Record<string, string> = {};
        for (const kv of (h ?? '').split(',')) {
          const i = kv.indexOf('=');
          if (i > 0) headers[kv.slice(0, i)] = kv.slice(i + 1);
        }
        return { partition: Number(p), offset: Number(o), key: key ?? '', value: value.join('\t'), headers };
      });
    },
    async close() {
      await bridge.close();
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.stdin?.end(); // kcat -P exits at the end of its input
        const force = setTimeout(() => child.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(force);
      }
    },
  };
}
