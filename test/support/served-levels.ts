/** Shared by the consumer tests: what a serving app answers for the `level` column of many ids. */
import { expect } from 'vitest';
import type { ServingApp } from '../../src/app.js';

/** `level` of each id in dataset `players` as served over HTTP (null when it has none). */
export async function levels(app: ServingApp, ids: readonly string[]): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  for (let i = 0; i < ids.length; i += 500) {
    const res = await app.http.inject({ method: 'POST', url: '/v1/entities/batch', payload: { entity_ids: ids.slice(i, i + 500), datasets: ['players'] } });
    expect(res.statusCode, res.body).toBe(200);
    for (const e of res.json().results as { entity_id: string; datasets: { features: Record<string, { value: unknown }> }[] }[]) {
      const v = e.datasets[0]?.features['level']?.value;
      out.set(e.entity_id, typeof v === 'string' ? v : null);
    }
  }
  return out;
}
