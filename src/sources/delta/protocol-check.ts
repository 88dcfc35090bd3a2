/**
 * Reader-side protocol checks (PROTOCOL.md "Protocol Evolution", "Table Features", "Reader
 * Version Requirements"). malt reads reader versions 1–3; under version 3 only the reader
 * features it implements are accepted, and version 2 means column mapping (which it implements).
 * Anything else is refused with DELTA_UNSUPPORTED naming table, version and feature: guessing
 * at a feature's meaning could serve wrong rows.
 */
import type { ProtocolAction } from './actions.js';
import { unsupported } from './delta-errors.js';

export const MAX_READER_VERSION = 3;

/**
 * Reader features malt implements. vacuumProtocolCheck only constrains writers/VACUUM, so
 * readers acknowledge it; typeWidening is handled by the loader reading narrow Parquet types
 * into the table's wider type.
 */
export const SUPPORTED_READER_FEATURES: ReadonlySet<string> = new Set([
  'columnMapping',
  'deletionVectors',
  'timestampNtz',
  'v2Checkpoint',
  'vacuumProtocolCheck',
  'typeWidening',
  'typeWidening-preview',
]);

export function checkReaderProtocol(protocol: ProtocolAction, tableUri: string, version: number): void {
  const rv = protocol.minReaderVersion;
  if (rv < 1) throw unsupported(tableUri, version, `minReaderVersion ${rv} is not a valid reader version`);
  if (rv > MAX_READER_VERSION) {
    throw unsupported(tableUri, version, `minReaderVersion ${rv} is above ${MAX_READER_VERSION}, the highest malt reads`);
  }
  if (rv === 3) {
    const missing = protocol.readerFeatures.filter((f) => !SUPPORTED_READER_FEATURES.has(f));
    if (missing.length > 0) throw unsupported(tableUri, version, `reader feature ${missing.map((f) => JSON.stringify(f)).join(', ')} is not supported by malt`);
  }
}
