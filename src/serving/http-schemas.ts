/**
 * JSON schemas of the HTTP API: they validate requests and produce the OpenAPI document at
 * /docs/json. Entity responses are pre-serialised strings, so their response schemas only
 * document the shape.
 */
import { ERROR_CATALOG, type ErrorCode } from '../errors.js';

/** OpenAPI error responses generated from the catalog: one per HTTP status of the given codes. */
export function errorResponses(...codes: ErrorCode[]): Record<number, { description: string; type: 'object'; properties: Record<string, unknown> }> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const c of codes) byStatus.set(ERROR_CATALOG[c].http, [...(byStatus.get(ERROR_CATALOG[c].http) ?? []), c]);
  return Object.fromEntries([...byStatus].map(([status, cs]) => [status, {
    description: cs.join(', '),
    type: 'object' as const,
    properties: { error: { type: 'object', properties: { code: { type: 'string', enum: cs }, message: { type: 'string' }, details: { type: 'array', items: { type: 'string' } } } } },
  }]));
}

/** What every request can fail with, whatever the route. */
const COMMON: ErrorCode[] = ['STORE_UNAVAILABLE', 'SHUTTING_DOWN', 'INTERNAL'];
const LOOKUP: ErrorCode[] = [...COMMON, 'INVALID_ENTITY_ID', 'INVALID_ARGUMENT', 'DATASET_NOT_FOUND', 'DATASET_NOT_LOADED'];
const SEGMENTS: ErrorCode[] = [...LOOKUP, 'NOT_A_SEGMENTS_DATASET'];

const value = {
  description: 'Typed value: number (double), string (int64, exact), string (timestamp, RFC 3339), boolean, string, array of strings, or null',
} as const;

const degraded = { type: 'string', enum: ['CACHED', 'DEFAULTS'], description: 'Present when Redis could not be read in time and the dataset\'s fallback answered (docs/degraded-modes.md)' } as const;

const datasetResult = {
  type: 'object',
  properties: {
    dataset: { type: 'string' },
    version: { type: 'string', description: 'Snapshot version the values were read from' },
    found: { type: 'boolean' },
    degraded,
    features: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        properties: { value, status: { type: 'string', enum: ['PRESENT', 'NULL_VALUE', 'NOT_FOUND', 'DEFAULTED', 'STALE', 'UNAVAILABLE'] } },
      },
    },
  },
} as const;

const entityResult = {
  type: 'object',
  properties: { entity_id: { type: 'string' }, datasets: { type: 'array', items: datasetResult } },
} as const;

const idParam = { type: 'object', properties: { id: { type: 'string', description: 'Entity (player) id, URL-encoded' } }, required: ['id'] } as const;

export const entitySchemas = {
  get: {
    summary: 'Look up one entity in one or more datasets',
    params: idParam,
    querystring: { type: 'object', properties: { datasets: { type: 'string', description: 'Comma-separated dataset names; empty = every features dataset' } } },
    response: { 200: entityResult, ...errorResponses(...LOOKUP) },
  },
  batch: {
    summary: 'Look up many entities; results are in request order',
    body: {
      type: 'object',
      required: ['entity_ids'],
      additionalProperties: false,
      properties: {
        entity_ids: { type: 'array', items: { type: 'string' } },
        datasets: { type: 'array', items: { type: 'string' } },
      },
    },
    response: { 200: { type: 'object', properties: { results: { type: 'array', items: entityResult } } }, ...errorResponses(...LOOKUP, 'BATCH_TOO_LARGE', 'MALFORMED_JSON', 'PAYLOAD_TOO_LARGE') },
  },
  segments: {
    summary: 'The segments an entity belongs to',
    params: idParam,
    querystring: { type: 'object', properties: { dataset: { type: 'string', description: 'Segments dataset; optional when only one is declared' } } },
    response: {
      200: { type: 'object', properties: { entity_id: { type: 'string' }, segments: { type: 'array', items: { type: 'string' } }, version: { type: 'string' }, found: { type: 'boolean' }, degraded } },
      ...errorResponses(...SEGMENTS),
    },
  },
  member: {
    summary: 'Whether an entity is in a segment',
    params: { type: 'object', properties: { id: { type: 'string' }, segment: { type: 'string' } }, required: ['id', 'segment'] },
    querystring: { type: 'object', properties: { dataset: { type: 'string' } } },
    response: { 200: { type: 'object', properties: { member: { type: 'boolean' }, version: { type: 'string' }, degraded } }, ...errorResponses(...SEGMENTS) },
  },
} as const;

/** A version's source snapshot (shared by the dataset list and the versions list). */
const provenance = {
  source_format: { type: 'string', enum: ['parquet', 'delta'] },
  source_version: { type: ['string', 'null'], description: 'The Delta table version of the source snapshot; null for plain Parquet' },
  source_as_of: { type: ['string', 'null'], description: 'RFC 3339: the Delta commit time of that version, or the newest Parquet file\'s mtime' },
  source_snapshot_id: { type: ['string', 'null'], description: 'The source snapshot id: the Delta version, or a sha256 of the Parquet file listing' },
} as const;

const checkResult = {
  type: 'object',
  description: 'A quality gate the load failed',
  properties: {
    check: { type: 'string', description: 'min_rows, max_rejected_fraction, max_row_drop_fraction, max_null_fraction or schema' },
    column: { type: ['string', 'null'], description: 'The column, for max_null_fraction and schema; null otherwise' },
    actual: { type: ['number', 'string'], description: 'The measured value (a fraction or a count; for schema the new type, or "missing")' },
    limit: { type: ['number', 'string'], description: 'The configured limit (for schema the served type)' },
    message: { type: 'string' },
  },
} as const;

const datasetItem = {
  type: 'object',
  // Other fields (columns, serving_since, …) pass through as they are.
  additionalProperties: true,
  properties: { name: { type: 'string' }, kind: { type: 'string' }, current_version: { type: ['string', 'null'] }, ...provenance },
} as const;

const versionItem = {
  type: 'object',
  // The load report's other fields (rejected_reasons, value_rejects, …) pass through as they are.
  additionalProperties: true,
  properties: {
    version: { type: 'string' },
    state: { type: 'string', enum: ['loading', 'published', 'failed', 'reclaiming'] },
    current: { type: 'boolean' },
    ...provenance,
    error: { type: 'string', description: 'For failed versions: CODE: message of what refused the load' },
    checks: { type: 'array', items: checkResult, description: 'Failed quality gates: why a failed version was refused, or what --force overrode on a published one ([] when all passed)' },
  },
} as const;

export const datasetsSchema = {
  list: {
    summary: 'Declared datasets and the version each serves (current version, loaded_at, rows, source fingerprint, source snapshot)',
    response: { 200: { type: 'object', properties: { datasets: { type: 'array', items: datasetItem } } }, ...errorResponses(...COMMON) },
  },
  versions: {
    summary: 'Versions of a dataset kept in Redis, newest first, with their load reports, source snapshots and failed checks',
    params: { type: 'object', properties: { name: { type: 'string' } } },
    response: {
      200: { type: 'object', properties: { dataset: { type: 'string' }, current_version: { type: ['string', 'null'] }, versions: { type: 'array', items: versionItem } } },
      ...errorResponses(...COMMON, 'DATASET_NOT_FOUND'),
    },
  },
  rollback: {
    summary: 'Serve an older version again (default: the newest published version older than the current one)',
    description: 'Optional JSON body {"to": "<version>"}.',
    params: { type: 'object', properties: { name: { type: 'string' } } },
    response: errorResponses(...COMMON, 'DATASET_NOT_FOUND', 'INVALID_ARGUMENT', 'MALFORMED_JSON', 'PAYLOAD_TOO_LARGE', 'UNAUTHENTICATED', 'ADMIN_DISABLED', 'NO_PREVIOUS_VERSION', 'VERSION_NOT_FOUND'),
  },
} as const;
