/**
 * The shared deadline timer of the read path (serving/deadline-queue.ts): every Redis read in
 * flight waits under one timer. Each entry must expire at its own deadline (not before, not
 * much after), entries removed in time must never expire, and the timer must stop once nothing
 * waits, however many reads came and went.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type DeadlineEntry, DeadlineQueue } from '../src/serving/deadline-queue.js';

function entry(log: string[], name: string, at: () => number): DeadlineEntry & { expiredAt: number | null } {
  const e = {
    deadlineAt: 0, prevDeadline: null, nextDeadline: null, expiredAt: null as number | null,
    expire(): void {
      e.expiredAt = at();
      log.push(name);
    },
  };
  return e;
}

describe('DeadlineQueue', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('expires each entry at its own deadline, in order, and not before', () => {
    vi.useFakeTimers();
    const now = (): number => Date.now();
    const t0 = now();
    const q = new DeadlineQueue(100, now);
    const log: string[] = [];
    const a = entry(log, 'a', now), b = entry(log, 'b', now), c = entry(log, 'c', now);
    q.add(a);
    vi.advanceTimersByTime(30);
    q.add(b);
    vi.advanceTimersByTime(20);
    q.add(c);
    vi.advanceTimersByTime(49);
    expect(log).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(log).toEqual(['a']);
    expect(a.expiredAt! - t0).toBe(100);
    vi.advanceTimersByTime(29);
    expect(log).toEqual(['a']);
    vi.advanceTimersByTime(1);
    expect(log).toEqual(['a', 'b']);
    expect(b.expiredAt! - t0).toBe(130);
    vi.advanceTimersByTime(20);
    expect(log).toEqual(['a', 'b', 'c']);
    expect(c.expiredAt! - t0).toBe(150);
    expect(q.size).toBe(0);
    expect(q.armed).toBe(false);
  });

  it('never expires entries removed in time, and stops its timer once nothing waits', () => {
    vi.useFakeTimers();
    const now = (): number => Date.now();
    const q = new DeadlineQueue(50, now);
    const log: string[] = [];
    const es = Array.from({ length: 5 }, (_, i) => entry(log, `e${i}`, now));
    for (const e of es) q.add(e);
    // Removal from the middle, the head and the tail, and twice (a no-op).
    q.remove(es[2]!);
    q.remove(es[0]!);
    q.remove(es[4]!);
    q.remove(es[4]!);
    expect(q.size).toBe(2);
    vi.advanceTimersByTime(50);
    expect(log).toEqual(['e1', 'e3']);
    const late = entry(log, 'late', now);
    q.add(late);
    q.remove(late);
    expect(q.size).toBe(0);
    vi.advanceTimersByTime(50);
    expect(log).toEqual(['e1', 'e3']);
    expect(q.armed).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('arms one timer for a stream of reads, not one per read', () => {
    vi.useFakeTimers();
    const now = (): number => Date.now();
    const q = new DeadlineQueue(100, now);
    const log: string[] = [];
    const spy = vi.spyOn(globalThis, 'setTimeout');
    // 10 000 reads over 1 s, each answered 1 ms after it began, one still open at any time.
    let open: DeadlineEntry | null = null;
    for (let i = 0; i < 10_000; i++) {
      const e = entry(log, `r${i}`, now);
      q.add(e);
      if (open !== null) q.remove(open);
      open = e;
      if (i % 10 === 9) vi.advanceTimersByTime(1);
    }
    q.remove(open!);
    vi.advanceTimersByTime(200);
    expect(log).toEqual([]);
    // About one per 100 ms duration (each firing re-arms for the read then at the head).
    expect(spy.mock.calls.length).toBeLessThanOrEqual(25);
    expect(q.armed).toBe(false);
    spy.mockRestore();
  });

  it('fires on the real clock no earlier than the deadline', async () => {
    const q = new DeadlineQueue(30);
    const started = performance.now();
    const fired = await new Promise<number>((resolve) => {
      q.add({ deadlineAt: 0, prevDeadline: null, nextDeadline: null, expire: () => resolve(performance.now()) });
    });
    expect(fired - started).toBeGreaterThanOrEqual(29);
    expect(q.size).toBe(0);
    expect(q.armed).toBe(false);
  });

  it('an expire() that throws does not stop the later entries from expiring on time', () => {
    vi.useFakeTimers();
    const now = (): number => Date.now();
    const q = new DeadlineQueue(100, now);
    const log: string[] = [];
    const bad = entry(log, 'bad', now);
    bad.expire = () => {
      log.push('bad');
      throw new Error('caller bug');
    };
    q.add(bad);
    vi.advanceTimersByTime(10);
    const later = entry(log, 'later', now);
    q.add(later);
    expect(() => vi.advanceTimersByTime(95)).toThrow('caller bug');
    expect(log).toEqual(['bad']);
    vi.advanceTimersByTime(10);
    expect(log).toEqual(['bad', 'later']);
    expect(later.expiredAt).not.toBeNull();
    expect(q.size).toBe(0);
  });

  it('an entry added from inside expire() does not delay an older one', () => {
    vi.useFakeTimers();
    const now = (): number => Date.now();
    const t0 = now();
    const q = new DeadlineQueue(100, now);
    const log: string[] = [];
    const first = entry(log, 'first', now);
    const older = entry(log, 'older', now);
    const added = entry(log, 'added', now);
    first.expire = () => {
      log.push('first');
      q.add(added);
    };
    q.add(first);
    vi.advanceTimersByTime(50);
    q.add(older); // due at t0 + 150
    vi.advanceTimersByTime(50); // first expires at t0 + 100 and adds one due at t0 + 200
    expect(log).toEqual(['first']);
    vi.advanceTimersByTime(55);
    expect(log).toEqual(['first', 'older']);
    expect((older.expiredAt as number) - t0).toBeLessThan(160);
    vi.advanceTimersByTime(50);
    expect(log).toEqual(['first', 'older', 'added']);
  });
});
