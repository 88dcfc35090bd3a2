/**
 * Open-loop pacing shared by the node load generators: a 1 ms tick issues every request that
 * has come due since `start` (one each `1000 / rate` ms) until `until`, timed from the tick it
 * became due at, whether or not earlier requests have answered. Resolves when the schedule ends.
 */
export function paceOpenLoop({ start, rate, until, issue }) {
  const interval = 1000 / rate;
  let issued = 0;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      while (start + issued * interval <= now) {
        if (start + issued * interval >= until) {
          clearInterval(timer);
          resolve();
          return;
        }
        issued++;
        issue(now);
      }
    }, 1);
  });
}

/** Waits (at most `ms`) while `busy()` says requests are still out. */
export async function drain(busy, ms = 2000) {
  const until = performance.now() + ms;
  while (busy() && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
}
