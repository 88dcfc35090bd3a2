/** The config's TypeScript types, derived from the schema through build-config.ts (deeply readonly). */
import type { buildConfig } from './build-config.js';

type DeepReadonly<T> = T extends (infer E)[] ? ReadonlyArray<DeepReadonly<E>>
  : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

export type MaltConfig = DeepReadonly<ReturnType<typeof buildConfig>>;
export type DatasetConfig = MaltConfig['datasets'][number];
export type SourceConfig = DatasetConfig['source'];
export type SourceFormat = SourceConfig['format'];
export type SyncConfig = DatasetConfig['sync'];
export type DatasetChecks = DatasetConfig['checks'];
