/**
 * Delta log actions as malt uses them (PROTOCOL.md "Actions": add/remove, metaData, protocol,
 * commitInfo, sidecar, checkpointMetadata), normalised from either a JSON commit line or a
 * checkpoint Parquet row (where longs arrive as bigint and absent structs as null). Unknown
 * actions and unknown fields are ignored, as the protocol requires of readers.
 */
import type { DeletionVectorDescriptor } from '../source.js';
import { logInvalid } from './delta-errors.js';

export interface AddAction {
  readonly type: 'add';
  /** As in the log: a URI-encoded relative path or absolute URI. */
  readonly path: string;
  readonly partitionValues: Readonly<Record<string, string | null>>;
  readonly size: number;
  readonly deletionVector: DeletionVectorDescriptor | null;
}
export interface RemoveAction {
  readonly type: 'remove';
  readonly path: string;
  readonly deletionVector: DeletionVectorDescriptor | null;
}
export interface ProtocolAction {
  readonly type: 'protocol';
  readonly minReaderVersion: number;
  readonly minWriterVersion: number;
  readonly readerFeatures: readonly string[];
  readonly writerFeatures: readonly string[];
}
export interface MetadataAction {
  readonly type: 'metaData';
  readonly id: string;
  readonly schemaString: string;
  readonly partitionColumns: readonly string[];
  readonly configuration: Readonly<Record<string, string>>;
}
export interface CommitInfoAction {
  readonly type: 'commitInfo';
  readonly timestamp: number | null;
  readonly inCommitTimestamp: number | null;
}
export interface SidecarAction {
  readonly type: 'sidecar';
  readonly path: string;
  readonly sizeInBytes: number | null;
}
export type DeltaAction = AddAction | RemoveAction | ProtocolAction | MetadataAction | CommitInfoAction | SidecarAction;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A long from JSON (number) or Parquet (bigint), as a safe integer; null when absent. */
function long(v: unknown, field: string, where: string, tableUri: string): number | null {
  if (v === null || v === undefined) return null;
  const n = typeof v === 'bigint' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw logInvalid(tableUri, `${where}: ${field} is not an integer (${String(v)})`);
  return n;
}

function str(v: unknown, field: string, where: string, tableUri: string): string {
  if (typeof v !== 'string') throw logInvalid(tableUri, `${where}: ${field} is missing or not a string`);
  return v;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function stringMap(v: unknown, nullable: boolean): Record<string, string | null> {
  const out: Record<string, string | null> = Object.create(null) as Record<string, string | null>;
  if (!isObj(v)) return out;
  for (const [k, val] of Object.entries(v)) {
    if (typeof val === 'string') out[k] = val;
    else if (nullable && (val === null || val === undefined)) out[k] = null;
  }
  return out;
}

function deletionVector(v: unknown, where: string, tableUri: string): DeletionVectorDescriptor | null {
  if (!isObj(v) || v['storageType'] === null || v['storageType'] === undefined) return null;
  const storageType = v['storageType'];
  if (storageType !== 'u' && storageType !== 'i' && storageType !== 'p') {
    throw logInvalid(tableUri, `${where}: unknown deletion vector storageType ${JSON.stringify(storageType)}`);
  }
  return {
    storageType,
    pathOrInlineDv: str(v['pathOrInlineDv'], 'deletionVector.pathOrInlineDv', where, tableUri),
    offset: long(v['offset'], 'deletionVector.offset', where, tableUri),
    sizeInBytes: long(v['sizeInBytes'], 'deletionVector.sizeInBytes', where, tableUri) ?? 0,
    cardinality: long(v['cardinality'], 'deletionVector.cardinality', where, tableUri) ?? 0,
  };
}

/** The log-replay key's second half (PROTOCOL.md "Derived Fields": uniqueId); '' when no DV. */
export function deletionVectorId(dv: DeletionVectorDescriptor | null): string {
  if (dv === null) return '';
  return dv.offset === null ? `${dv.storageType}${dv.pathOrInlineDv}` : `${dv.storageType}${dv.pathOrInlineDv}@${dv.offset}`;
}

/**
 * One action from a log line or checkpoint row; null for actions malt does not need (txn,
 * domainMetadata, cdc, checkpointMetadata, unknown ones) or an all-null checkpoint struct.
 * `where` names the file for messages.
 */
export function normalizeAction(raw: unknown, where: string, tableUri: string): DeltaAction | null {
  if (!isObj(raw)) return null;
  const add = raw['add'];
  if (isObj(add) && add['path'] != null) {
    return {
      type: 'add',
      path: str(add['path'], 'add.path', where, tableUri),
      partitionValues: stringMap(add['partitionValues'], true),
      size: long(add['size'], 'add.size', where, tableUri) ?? 0,
      deletionVector: deletionVector(add['deletionVector'], where, tableUri),
    };
  }
  const remove = raw['remove'];
  if (isObj(remove) && remove['path'] != null) {
    return { type: 'remove', path: str(remove['path'], 'remove.path', where, tableUri), deletionVector: deletionVector(remove['deletionVector'], where, tableUri) };
  }
  const protocol = raw['protocol'];
  if (isObj(protocol) && protocol['minReaderVersion'] != null) {
    return {
      type: 'protocol',
      minReaderVersion: long(protocol['minReaderVersion'], 'protocol.minReaderVersion', where, tableUri) ?? 0,
      minWriterVersion: long(protocol['minWriterVersion'], 'protocol.minWriterVersion', where, tableUri) ?? 0,
      readerFeatures: strings(protocol['readerFeatures']),
      writerFeatures: strings(protocol['writerFeatures']),
    };
  }
  const meta = raw['metaData'];
  if (isObj(meta) && meta['id'] != null) {
    return {
      type: 'metaData',
      id: str(meta['id'], 'metaData.id', where, tableUri),
      schemaString: str(meta['schemaString'], 'metaData.schemaString', where, tableUri),
      partitionColumns: strings(meta['partitionColumns']),
      configuration: stringMap(meta['configuration'], false) as Record<string, string>,
    };
  }
  const info = raw['commitInfo'];
  if (isObj(info)) {
    // commitInfo is free-form provenance: a malformed timestamp is ignored rather than refused.
    const ts = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : typeof v === 'bigint' ? Number(v) : null);
    return { type: 'commitInfo', timestamp: ts(info['timestamp']), inCommitTimestamp: ts(info['inCommitTimestamp']) };
  }
  const sidecar = raw['sidecar'];
  if (isObj(sidecar) && sidecar['path'] != null) {
    return { type: 'sidecar', path: str(sidecar['path'], 'sidecar.path', where, tableUri), sizeInBytes: long(sidecar['sizeInBytes'], 'sidecar.sizeInBytes', where, tableUri) };
  }
  return null;
}
