/** Helpers for tests that prove a load read no data file. */
import { utimesSync } from 'node:fs';
import { vi } from 'vitest';
import { LocalObjectStore } from '../../src/sources/local-store.js';

/** Counts data-file reads (open/read on local files) from now until restore(). */
export function spyDataReads(): { calls(): number; restore(): void } {
  const open = vi.spyOn(LocalObjectStore.prototype, 'open');
  const read = vi.spyOn(LocalObjectStore.prototype, 'read');
  return { calls: () => open.mock.calls.length + read.mock.calls.length, restore: () => { open.mockRestore(); read.mockRestore(); } };
}

/** Sets a file's mtime to a whole second a minute ago (stable across file systems' precision). */
export function roundMtime(file: string): void {
  const t = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  utimesSync(file, t, t);
}
