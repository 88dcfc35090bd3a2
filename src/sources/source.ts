/**
 * The seam between lakes and the loader. A source (plain or Hive-partitioned Parquet, a Delta
 * table) resolves its configured location to one immutable snapshot: which data files make up
 * the table now, with their partition values and deleted rows. The loader then reads each file
 * through the ObjectStore (hyparquet over an AsyncBuffer) and never lists anything itself.
 */
import type { ObjectStore } from './object-store.js';

/** A Delta deletion vector descriptor, as in the `add` action (PROTOCOL.md "Deletion Vectors"). */
export interface DeletionVectorDescriptor {
  /** 'u' relative (UUID-derived path), 'i' inline (Z85), 'p' absolute path. */
  readonly storageType: 'u' | 'i' | 'p';
  readonly pathOrInlineDv: string;
  readonly offset: number | null;
  readonly sizeInBytes: number;
  readonly cardinality: number;
}

export interface DataFile {
  /** Full location (absolute path or s3:// URI), already decoded. */
  readonly location: string;
  readonly size: number;
  /** Raw partition values by logical column name (null = null); typed by the loader. */
  readonly partitionValues: Readonly<Record<string, string | null>>;
  /** Rows of this file removed by a deletion vector; null when none. */
  readonly deletionVector: DeletionVectorDescriptor | null;
}

/** A column of the source's own schema (Delta's metaData.schemaString), by logical name. */
export interface SourceColumn {
  readonly name: string;
  /** Delta type: a primitive name ('long', 'decimal(10,2)', 'timestamp_ntz', …) or a nested JSON type. */
  readonly type: string | Readonly<Record<string, unknown>>;
  readonly nullable: boolean;
  /** Column mapping: the name in the Parquet files (logical name when mapping is off). */
  readonly physicalName: string;
  /** Column mapping id mode: the Parquet field_id to match; null otherwise. */
  readonly fieldId: number | null;
}

export interface SourceSnapshot {
  readonly format: 'parquet' | 'delta';
  /** The configured location, for messages. */
  readonly uri: string;
  /** Changes whenever the data may have: the Delta version, or a fingerprint of the file set. */
  readonly snapshotId: string;
  /** Shown to users as source_version: the Delta version as a string; null for plain Parquet. */
  readonly sourceVersion: string | null;
  /** Shown as source_as_of (RFC 3339): the Delta commit time; newest file mtime for Parquet. */
  readonly sourceAsOf: string | null;
  readonly files: readonly DataFile[];
  /** The table's schema when the source has one (Delta); null = taken from the Parquet files. */
  readonly schema: readonly SourceColumn[] | null;
  /** Partition columns (logical names), in declaration order. */
  readonly partitionColumns: readonly string[];
  /** Where the files are read from. */
  readonly store: ObjectStore;
}
