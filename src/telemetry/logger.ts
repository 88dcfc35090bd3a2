/**
 * The Logger the serving and loading code writes operator-facing lines to: info/warn/error with a
 * message and optional fields. The CLI prints them to stderr; tests capture them.
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

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
