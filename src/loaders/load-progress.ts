/**
 * Load progress: a redrawn bar on a TTY (rows, rows/s, ETA), periodic log lines otherwise.
 */
export interface ProgressSink {
  start(dataset: string, totalRows: number): void;
  update(rowsRead: number): void;
  done(): void;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

export function createProgress(stream: NodeJS.WriteStream = process.stderr, intervalMs = 5000): ProgressSink {
  const tty = stream.isTTY === true;
  let dataset = '';
  let total = 0;
  let started = 0;
  let lastDraw = 0;
  const line = (rows: number): string => {
    const secs = Math.max((Date.now() - started) / 1000, 0.001);
    const rate = rows / secs;
    const eta = rate > 0 && total > rows ? `ETA ${Math.ceil((total - rows) / rate)} s` : '';
    return `${dataset}: ${fmt(rows)}/${fmt(total)} rows, ${fmt(rate)} rows/s ${eta}`;
  };
  return {
    start(name, totalRows) {
      dataset = name;
      total = totalRows;
      started = Date.now();
      lastDraw = 0;
    },
    update(rows) {
      const now = Date.now();
      if (tty) {
        if (now - lastDraw < 100) return;
        lastDraw = now;
        const width = 24;
        const filled = total > 0 ? Math.min(width, Math.round((rows / total) * width)) : 0;
        stream.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${line(rows)}   `);
      } else if (now - lastDraw >= intervalMs) {
        if (lastDraw !== 0) stream.write(`${new Date().toISOString()} ${line(rows)}\n`);
        lastDraw = now;
      }
    },
    done() {
      if (tty) stream.write(`\r${' '.repeat(100)}\r`);
    },
  };
}

export const silentProgress: ProgressSink = { start() {}, update() {}, done() {} };
