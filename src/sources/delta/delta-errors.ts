/**
 * Error helpers for the Delta log reader: every refusal names the table (and, where known, the
 * version, file or feature), so a user can tell which table of many was refused and why.
 */
import { MaltError } from '../../errors.js';

/** The log cannot be replayed exactly (missing/corrupt files, missing protocol or metaData…). */
export function logInvalid(tableUri: string, message: string): MaltError {
  return new MaltError('DELTA_LOG_INVALID', `Delta table ${tableUri}: ${message}`);
}

/** The table needs something malt does not implement (reader version or feature). */
export function unsupported(tableUri: string, version: number, message: string): MaltError {
  return new MaltError('DELTA_UNSUPPORTED', `Delta table ${tableUri} at version ${version}: ${message}`);
}
