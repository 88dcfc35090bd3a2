/**
 * Bounds a promise by a deadline: past it the caller gets STORE_UNAVAILABLE (the work itself
 * cannot be cancelled; callers bound how much of it may be outstanding).
 */
import { MaltError, toMaltError } from '../errors.js';

export function withDeadline<T>(p: Promise<T>, timeoutMs: number, what = 'Redis'): Promise<T> {
  // One promise and one timer per call (not a race of four promises): it runs for every Redis read.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new MaltError('STORE_UNAVAILABLE', `${what} did not answer within ${timeoutMs} ms`)), timeoutMs);
    p.then((value) => {
      clearTimeout(timer);
      resolve(value);
    }, (err: unknown) => {
      clearTimeout(timer);
      reject(toMaltError(err));
    });
  });
}

/** Shares one in-flight call among concurrent callers (health checks, pointer polls). */
export function singleFlight<T>(fn: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | null = null;
  return () => {
    running ??= fn().finally(() => {
      running = null;
    });
    return running;
  };
}
