/**
 * The Logger the serving, loading and sync code writes operator-facing lines to: info/warn/error
 * with a message and optional fields. The CLI prints them to stderr (stderrLogger); tests capture
 * them. Library code takes a Logger; it never writes to the console itself.
 */
export type LogFields = Readonly<Record<string, string | number | boolean | null>>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

function line(level: string, message: string, fields?: LogFields): string {
  const extra = fields ? Object.entries(fields).map(([k, v]) => ` ${k}=${JSON.stringify(v)}`).join('') : '';
  return `${level} ${message}${extra}`;
}

/** A Logger over a plain line sink (the CLI's timestamped stderr writer). */
export function lineLogger(write: (msg: string) => void): Logger {
  return {
    info: (m, f) => write(line('info', m, f)),
    warn: (m, f) => write(line('warn', m, f)),
    error: (m, f) => write(line('error', m, f)),
  };
}

/** Writes one timestamped line to stderr: `2026-01-01T00:00:00.000Z <msg>`. */
export function writeStderrLine(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} ${msg}\n`);
}

/** The CLI's Logger: `<ISO time> <level> <message> key=value…` lines on stderr. */
export const stderrLogger: Logger = lineLogger(writeStderrLine);

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
