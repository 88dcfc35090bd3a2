import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { load, makeConfig, serve, tmpDir, writeGeneration, appsClosedAfterAll } from './support/fixtures.js';

const apps = appsClosedAfterAll();

describe('atomic publish', () => {
  it('readers hammering during loads see the old version or the new one, never a mix or a missing player', async () => {
    const PLAYERS = 20_000;
    const dir = tmpDir();
    const file = path.join(dir, 'gen.parquet');
    writeGeneration(file, PLAYERS, 1);
    const cfg = makeConfig({
      cache: { max_bytes: 0 }, // every read goes to Redis
      serving: { max_batch_size: 500, request_timeout_ms: 5000 },
      loader: { batch_rows: 500, max_batches_in_flight: 2 },
      datasets: [{ name: 'gen', source: { format: 'parquet', uri: file }, key: 'player_id', columns: { gen: 'int64', label: 'string' }, keep_versions: 2 }],
    });
    await load(cfg, 'gen');
    const app = await serve(cfg);
    apps.push(app);

    const seenVersions = new Set<string>();
    const problems: string[] = [];
    let reads = 0;
    let stop = false;
    const reader = async (): Promise<void> => {
      while (!stop) {
        const ids = Array.from({ length: 200 }, () => `g${Math.floor(Math.random() * PLAYERS)}`);
        const results = await app.lookup.get(ids, ['gen']);
        const versions = new Set(results.map((r) => r.datasets[0]!.version));
        const gens = new Set<string>();
        for (const r of results) {
          const d = r.datasets[0]!;
          if (!d.found) problems.push(`${r.entityId} missing in version ${d.version}`);
          const features = d.toObject().features;
          const gen = features['gen']!.value as string;
          const label = features['label']!.value as string;
          gens.add(gen);
          if (label !== `${r.entityId}@${gen}`) problems.push(`${r.entityId}: label ${label} does not match gen ${gen}`);
        }
        if (versions.size !== 1 || gens.size !== 1) problems.push(`mixed response: versions ${[...versions]} gens ${[...gens]}`);
        for (const v of versions) seenVersions.add(v);
        reads++;
      }
    };
    const readers = [reader(), reader(), reader()];
    for (let gen = 2; gen <= 4; gen++) {
      writeGeneration(file, PLAYERS, gen);
      await load(cfg, 'gen');
      // Let readers observe the flip before the next load starts.
      const deadline = Date.now() + 2000;
      while (!seenVersions.has(String(gen)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    }
    stop = true;
    await Promise.all(readers);
    expect(problems.slice(0, 5)).toEqual([]);
    expect([...seenVersions].sort()).toEqual(['1', '2', '3', '4']);
    expect(reads).toBeGreaterThan(20);
  });
});
