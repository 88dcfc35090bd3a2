/**
 * src/errors.ts writes the gRPC status codes out (so `malt load` need not load grpc-js): they
 * must be grpc-js's, name for name and value for value.
 */
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG, GrpcStatus } from '../src/errors.js';

describe('gRPC status codes in the error catalog', () => {
  it('are grpc-js status codes, every one of them', () => {
    const theirs = Object.fromEntries(Object.entries(status).filter(([, v]) => typeof v === 'number'));
    expect(GrpcStatus).toEqual(theirs);
    for (const [code, e] of Object.entries(ERROR_CATALOG)) expect(Object.values(theirs), code).toContain(e.grpc);
  });
});
