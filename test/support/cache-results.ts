/** Shared by the cache tests: a sizeable one-column result, and Redis's count of HGET calls. */
import type { Redis } from 'ioredis';
import { DatasetResult } from '../../src/serving/dataset-result.js';

/** A found (or not) result of dataset `ds` v1 with one ~110-byte string column. */
export function result(i: number, found = true): DatasetResult {
  return DatasetResult.build('ds', '1', found, [{ name: 'country', type: 'string', value: `country-${i}-${'x'.repeat(100)}`, status: 'PRESENT' }], null);
}

/** HGET calls Redis has served so far (INFO commandstats): reads that reached Redis. */
export async function hgetCalls(client: Redis): Promise<number> {
  const m = /cmdstat_hget:calls=(\d+)/.exec(await client.info('commandstats'));
  return m ? Number(m[1]) : 0;
}
