/**
 * The close stack shared by every long-running command (serve, sync): each start step registers
 * its undo right after it succeeds, and close() undoes them in reverse order, each in its own
 * try/catch, so a failing step never keeps the later ones from running. close() is idempotent:
 * every call returns the same promise.
 */
import { type Logger, silentLogger } from '../telemetry/logger.js';

export class Lifecycle {
  private readonly steps: { name: string; undo: () => unknown }[] = [];
  private readonly logger: Logger;
  private closed: Promise<void> | null = null;

  /** `logger` receives a line per undo step that fails (default: none). */
  constructor(logger: Logger = silentLogger) {
    this.logger = logger;
  }

  /** True once close() has been called (start code and request handlers check it). */
  get closing(): boolean {
    return this.closed !== null;
  }

  /**
   * Registers the undo of a step that has just succeeded; undone before the ones added earlier.
   * A step that finishes starting after close() began is undone as soon as close() is done.
   */
  add(name: string, undo: () => unknown): void {
    if (this.closed) {
      this.closed = this.closed.then(() => this.undo({ name, undo }));
      return;
    }
    this.steps.push({ name, undo });
  }

  private async undo(step: { name: string; undo: () => unknown }): Promise<void> {
    try {
      await step.undo();
    } catch (err) {
      this.logger.error(`close: ${step.name} failed: ${(err as Error).message}`);
    }
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      for (const step of this.steps.slice().reverse()) await this.undo(step);
    })();
    return this.closed;
  }
}
