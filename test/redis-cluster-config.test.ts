/**
 * Pure parts of the Redis Cluster support: the key → slot function command-batch.ts groups by,
 * and the `redis.cluster` / REDIS_CLUSTER config.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { keySlot } from '../src/store/key-slot.js';

const datasets = [{ name: 'p', kind: 'features', key: 'id', source: { format: 'parquet', uri: '/tmp/none' } }];

describe('keySlot', () => {
  it('matches the slots Redis Cluster assigns (CLUSTER KEYSLOT), hash tags included', () => {
    // Values of ioredis's own slot function (cluster-key-slot); "123456789" gives the CRC16/XMODEM check value 0x31C3.
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('123456789')).toBe(12739);
    expect(keySlot('malt:{a}:x')).toBe(keySlot('a'));
    expect(keySlot('malt:{a}:x')).toBe(15495);
    expect(keySlot('{}x')).toBe(10595); // an empty tag is no tag: the whole key is hashed
    expect(keySlot('a{b}c{d}')).toBe(keySlot('b')); // the first tag counts
    expect(keySlot('héllo')).toBe(11061); // UTF-8 bytes
  });
});

describe('redis.cluster config', () => {
  it('takes seed nodes from the file or REDIS_CLUSTER (comma-separated), and refuses them with a url', () => {
    const fromFile = loadConfig({ document: { redis: { cluster: ['127.0.0.1:7000', 'h2:7001'] }, datasets }, env: {}, baseDir: '/tmp' });
    expect(fromFile.redis.cluster).toEqual(['127.0.0.1:7000', 'h2:7001']);
    const fromEnv = loadConfig({ document: { datasets }, env: { REDIS_CLUSTER: '127.0.0.1:7002, 127.0.0.1:7003' }, baseDir: '/tmp' });
    expect(fromEnv.redis.cluster).toEqual(['127.0.0.1:7002', '127.0.0.1:7003']);
    expect(loadConfig({ document: { datasets }, env: {}, baseDir: '/tmp' }).redis.cluster).toEqual([]);
    expect(() => loadConfig({ document: { redis: { url: 'redis://x:1', cluster: ['a:1'] }, datasets }, env: {}, baseDir: '/tmp' }))
      .toThrow(/url and cluster are exclusive/);
    expect(() => loadConfig({ document: { redis: { cluster: ['nohost'] }, datasets }, env: {}, baseDir: '/tmp' })).toThrow(/must be host:port/);
  });
});
