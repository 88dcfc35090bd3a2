/**
 * One timer for every Redis read in flight instead of a setTimeout (and its clearTimeout) per
 * read. All entries share one duration (serving.request_timeout_ms), so their deadlines come in
 * the order they were added: the queue is a doubly linked list (added at the tail, removed in
 * O(1) when the read settles) and a single unref'd timer is armed for the head. When it fires it
 * expires every entry whose deadline has passed and re-arms for the new head; under steady load
 * the head is a read that began a moment ago, so the timer fires about once per duration, not
 * once per read. A settled entry leaves the timer armed (cheaper than clearing it per read); the
 * next firing finds the queue empty and stops. Entries are the callers' own objects (the read
 * flights), so adding one allocates nothing.
 */

/** What the queue links: an object it may write these fields on (ReadFlight). */
export interface DeadlineEntry {
  /** performance.now() at which the entry expires (set by add()). */
  deadlineAt: number;
  prevDeadline: DeadlineEntry | null;
  nextDeadline: DeadlineEntry | null;
  /** Called once, when the deadline passes before remove(); the entry is out of the queue by then. */
  expire(): void;
}

export class DeadlineQueue {
  private head: DeadlineEntry | null = null;
  private tail: DeadlineEntry | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** When the armed timer fires (performance.now() ms). */
  private timerAt = 0;
  private count = 0;

  /** `durationMs`: every entry's deadline, from when it is added. `now`: the clock (tests). */
  constructor(readonly durationMs: number, private readonly now: () => number = () => performance.now()) {}

  /** Entries waiting (tests and diagnostics). */
  get size(): number {
    return this.count;
  }

  /** True while the shared timer is armed (tests: it stops once the queue is empty). */
  get armed(): boolean {
    return this.timer !== null;
  }

  add(e: DeadlineEntry): void {
    e.deadlineAt = this.now() + this.durationMs;
    e.prevDeadline = this.tail;
    e.nextDeadline = null;
    if (this.tail === null) this.head = e;
    else this.tail.nextDeadline = e;
    this.tail = e;
    this.count++;
    // The head, not `e`: an expire() adding an entry while fire() runs leaves older ones queued.
    if (this.timer === null) this.arm((this.head as DeadlineEntry).deadlineAt - this.now());
  }

  /** Takes `e` out before its deadline (its read settled); a no-op when it is not queued. */
  remove(e: DeadlineEntry): void {
    if (e.prevDeadline === null && this.head !== e) return;
    if (e.prevDeadline === null) this.head = e.nextDeadline;
    else e.prevDeadline.nextDeadline = e.nextDeadline;
    if (e.nextDeadline === null) this.tail = e.prevDeadline;
    else e.nextDeadline.prevDeadline = e.prevDeadline;
    e.prevDeadline = null;
    e.nextDeadline = null;
    this.count--;
  }

  /** Stops the timer; entries still queued never expire (app close). */
  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(ms: number): void {
    this.timerAt = this.now() + ms;
    // Node's timers have millisecond resolution: round up so the timer never fires early.
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(ms)));
    this.timer.unref();
  }

  private readonly fire = (): void => {
    this.timer = null;
    const now = Math.max(this.now(), this.timerAt);
    try {
      // From the head each time: an expire() may remove or add other entries.
      for (let e = this.head; e !== null && e.deadlineAt <= now; e = this.head) {
        this.remove(e);
        e.expire();
      }
    } finally {
      // Re-armed even when an expire() threw, so the entries after it still expire on time.
      if (this.head !== null && this.timer === null) this.arm(this.head.deadlineAt - now);
    }
  };
}
