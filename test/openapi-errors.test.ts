import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG } from '../src/errors.js';
import { datasetsSchema, entitySchemas, errorResponses } from '../src/serving/http-schemas.js';

type Resp = Record<string, { description?: string; properties?: { error?: { properties?: { code?: { enum?: string[] } } } } }>;

describe('OpenAPI error responses come from the error catalog', () => {
  it('groups codes by their catalog HTTP status', () => {
    const r = errorResponses('INVALID_ARGUMENT', 'DATASET_NOT_FOUND', 'BATCH_TOO_LARGE', 'STORE_UNAVAILABLE') as Resp;
    expect(Object.keys(r).sort()).toEqual(['400', '404', '503']);
    expect(r['400']!.properties!.error!.properties!.code!.enum).toEqual(['INVALID_ARGUMENT', 'BATCH_TOO_LARGE']);
    expect(r['400']!.description).toBe('INVALID_ARGUMENT, BATCH_TOO_LARGE');
  });

  it('every route documents only catalog codes, each under its catalog status', () => {
    const routes = { ...entitySchemas, ...datasetsSchema } as Record<string, { response?: Resp }>;
    for (const [name, schema] of Object.entries(routes)) {
      const errors = Object.entries(schema.response ?? {}).filter(([s]) => Number(s) >= 400);
      expect(errors.length, name).toBeGreaterThan(0);
      for (const [status, resp] of errors) {
        const codes = resp.properties!.error!.properties!.code!.enum!;
        for (const c of codes) expect([name, c, ERROR_CATALOG[c as keyof typeof ERROR_CATALOG]?.http]).toEqual([name, c, Number(status)]);
      }
    }
  });
});
