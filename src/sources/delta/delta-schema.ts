/**
 * The table schema from `metaData.schemaString` (PROTOCOL.md "Schema Serialization Format") and
 * column mapping (PROTOCOL.md "Column Mapping"): top-level columns with their logical names,
 * the physical name the Parquet files use, and the field id in `id` mode.
 */
import type { SourceColumn } from '../source.js';
import { logInvalid, unsupported } from './delta-errors.js';

export type ColumnMappingMode = 'none' | 'name' | 'id';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `delta.columnMapping.mode` (default none); an unknown mode is refused, never guessed. */
export function columnMappingMode(configuration: Readonly<Record<string, string>>, tableUri: string, version: number): ColumnMappingMode {
  const mode = configuration['delta.columnMapping.mode'] ?? 'none';
  if (mode === 'none' || mode === 'name' || mode === 'id') return mode;
  throw unsupported(tableUri, version, `column mapping mode ${JSON.stringify(mode)} (delta.columnMapping.mode) is not supported`);
}

function fieldOf(raw: unknown, i: number, mode: ColumnMappingMode, tableUri: string): SourceColumn {
  if (!isObj(raw) || typeof raw['name'] !== 'string') throw logInvalid(tableUri, `metaData.schemaString field ${i} has no name`);
  const name = raw['name'];
  const type = raw['type'];
  if (typeof type !== 'string' && !isObj(type)) throw logInvalid(tableUri, `metaData.schemaString column ${JSON.stringify(name)} has no type`);
  const meta = isObj(raw['metadata']) ? raw['metadata'] : {};
  let physicalName = name;
  let fieldId: number | null = null;
  if (mode !== 'none') {
    const phys = meta['delta.columnMapping.physicalName'];
    if (typeof phys !== 'string' || phys === '') throw logInvalid(tableUri, `column ${JSON.stringify(name)} has no delta.columnMapping.physicalName under column mapping mode ${mode}`);
    physicalName = phys;
  }
  if (mode === 'id') {
    const id = meta['delta.columnMapping.id'];
    if (typeof id !== 'number' || !Number.isSafeInteger(id)) throw logInvalid(tableUri, `column ${JSON.stringify(name)} has no delta.columnMapping.id under column mapping mode id`);
    fieldId = id;
  }
  return { name, type: type as SourceColumn['type'], nullable: raw['nullable'] !== false, physicalName, fieldId };
}

/** Top-level columns of the schema, in declaration order. */
export function parseSchema(schemaString: string, mode: ColumnMappingMode, tableUri: string): SourceColumn[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(schemaString);
  } catch {
    throw logInvalid(tableUri, 'metaData.schemaString is not JSON');
  }
  if (!isObj(parsed) || parsed['type'] !== 'struct' || !Array.isArray(parsed['fields'])) {
    throw logInvalid(tableUri, 'metaData.schemaString is not a struct type');
  }
  return parsed['fields'].map((f, i) => fieldOf(f, i, mode, tableUri));
}

/**
 * Partition values by logical name from an add's `partitionValues` (keyed by physical name when
 * column mapping is on). "" and null both mean null (PROTOCOL.md "Partition Value
 * Serialization"); the string "null" is a value. A partition column absent from the map is a
 * log the writer broke: refused rather than read as null.
 */
export function logicalPartitionValues(
  raw: Readonly<Record<string, string | null>>,
  partitionColumns: readonly string[],
  byLogical: ReadonlyMap<string, SourceColumn>,
  path: string,
  tableUri: string,
): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  for (const logical of partitionColumns) {
    const physical = byLogical.get(logical)?.physicalName ?? logical;
    if (!Object.prototype.hasOwnProperty.call(raw, physical)) {
      throw logInvalid(tableUri, `add ${JSON.stringify(path)} has no partition value for column ${JSON.stringify(logical)}${physical !== logical ? ` (physical name ${physical})` : ''}`);
    }
    const v = raw[physical];
    out[logical] = v === undefined || v === null || v === '' ? null : v;
  }
  return out;
}
