/**
 * The one config module (its parts live in src/config/): the schema with every key's type,
 * range, default and documentation (config/schema.ts), the types derived from it
 * (config/types.ts), and loading with environment overrides and all problems reported at once
 * (config/load-config.ts). See docs/configuration.md, whose reference tables are generated from
 * the schema.
 */
export { DEFAULTS } from './config/defaults.js';
export { loadConfig, findDataset, type LoadConfigOptions } from './config/load-config.js';
export type { DatasetChecks, DatasetConfig, MaltConfig, SourceConfig, SourceFormat, SyncConfig } from './config/types.js';
export type { DatasetKind } from './model/types.js';
