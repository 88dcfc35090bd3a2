/**
 * The Logger the serving, loading and sync code writes operator-facing lines to: info/warn/error
 * (and optionally debug) with a message and optional fields. The CLI prints them to stderr
 * (stderrLogger): human `<time> <level> <message> key=value` lines by default, or one pino JSON
 * object per line with `log.format: json` (docs/observability.md#logs). Tests capture them.
 * Library code takes a Logger; it never writes to the console itself. Nothing logs a line per
 * request at info: per-request detail is debug only.
 */
import pino from 'pino';

export type LogFields = Readonly<Record<string, string | number | boolean | null>>;

export interface Logger {
  /** Per-request and other high-volume detail; off unless `log.level: debug`. */
  debug?(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = 'text' | 'json';

function line(level: string, message: string, fields?: LogFields): string {
  const extra = fields ? Object.entries(fields).map(([k, v]) => ` ${k}=${JSON.stringify(v)}`).join('') : '';
  return `${level} ${message}${extra}`;
}

const rank = (l: LogLevel): number => LOG_LEVELS.indexOf(l);

/** A Logger over a plain line sink (the CLI's timestamped stderr writer); lines below `level` (default info) are dropped. */
export function lineLogger(write: (msg: string) => void, level: LogLevel = 'info'): Logger {
  const min = rank(level);
  const at = (l: LogLevel) => (rank(l) >= min ? (m: string, f?: LogFields) => write(line(l, m, f)) : () => undefined);
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/**
 * A Logger writing pino JSON lines (`{"level":30,"time":"…","pid":…,"msg":"…",…fields}`) to
 * `destination` (default: stderr, written synchronously so no line is lost at exit).
 */
export function pinoLogger(level: LogLevel = 'info', destination: pino.DestinationStream = pino.destination({ fd: 2, sync: true })): Logger {
  const p = pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
  const at = (l: LogLevel) => (m: string, f?: LogFields): void => {
    if (f) p[l](f, m);
    else p[l](m);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Writes one timestamped line to stderr: `2026-01-01T00:00:00.000Z <msg>`. */
export function writeStderrLine(msg: string): void {
  process.stderr.write(`${new Date().toISOString()} ${msg}\n`);
}

let stderrBackend: Logger = lineLogger(writeStderrLine);

/**
 * The CLI's Logger, on stderr: `<ISO time> <level> <message> key=value…` lines until
 * configureStderrLogger() picks the config's `log.format` and `log.level`.
 */
export const stderrLogger: Logger = {
  debug: (m, f) => stderrBackend.debug?.(m, f),
  info: (m, f) => stderrBackend.info(m, f),
  warn: (m, f) => stderrBackend.warn(m, f),
  error: (m, f) => stderrBackend.error(m, f),
};

/** Switches stderrLogger to `format` (text lines or pino JSON) at `level`; the CLI calls it once the config is read. */
export function configureStderrLogger(opts: { readonly format: LogFormat; readonly level: LogLevel }): void {
  stderrBackend = opts.format === 'json' ? pinoLogger(opts.level) : lineLogger(writeStderrLine, opts.level);
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
