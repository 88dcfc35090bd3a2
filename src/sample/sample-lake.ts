/**
 * `malt sample`: writes a realistic, deterministic sample lake — a player_features table
 * (every column type, with nulls) split over several Parquet files, and a player_segments table
 * in long shape (one row per player × segment).
 */
import path from 'node:path';
import { writeParquet } from './write-parquet.js';

export interface SampleOptions {
  readonly dir: string;
  /** Number of players (default 100 000). */
  readonly players?: number;
  /** Files per table (default 4). */
  readonly files?: number;
}

export interface SampleSummary {
  readonly players: number;
  readonly featureFiles: string[];
  readonly segmentFiles: string[];
  readonly segmentRows: number;
}

/** mulberry32: a tiny seeded PRNG so every run writes the same lake (the bench reuses it). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'BR', 'JP', 'KR', 'IN', 'MX', 'CA', 'AU', 'TR'];
const TAGS = ['pvp', 'pve', 'guild_leader', 'social', 'collector', 'speedrunner', 'casual', 'night_owl'];
export const SAMPLE_SEGMENTS = ['whale', 'dolphin', 'minnow', 'churn_risk_high', 'lapsed_7d', 'starter_pack_eligible', 'new_player', 'vip'];
const BASE_TIME = Date.UTC(2026, 10, 1);

export function samplePlayerId(i: number): string {
  return `p_${String(i).padStart(6, '0')}`;
}

export function writeSampleLake(opts: SampleOptions): SampleSummary {
  const players = opts.players ?? 100_000;
  const files = Math.max(1, opts.files ?? 4);
  const rand = prng(42);
  const featureFiles: string[] = [];
  const segmentFiles: string[] = [];
  let segmentRows = 0;
  const perFile = Math.ceil(players / files);
  for (let f = 0; f < files; f++) {
    const start = f * perFile;
    const end = Math.min(players, start + perFile);
    if (start >= end) break;
    const ids: string[] = [], ltv: (number | null)[] = [], level: (number | null)[] = [], country: (string | null)[] = [];
    const payer: (boolean | null)[] = [], lastLogin: (Date | null)[] = [], tags: (string[] | null)[] = [], churn: (number | null)[] = [];
    const segIds: string[] = [], segs: string[] = [];
    for (let i = start; i < end; i++) {
      const id = samplePlayerId(i);
      ids.push(id);
      const spend = rand() < 0.02 ? rand() * 5000 : rand() < 0.3 ? rand() * 50 : 0;
      ltv.push(rand() < 0.05 ? null : Math.round(spend * 100) / 100);
      level.push(rand() < 0.01 ? null : 1 + Math.floor(rand() * 120));
      country.push(rand() < 0.03 ? null : COUNTRIES[Math.floor(rand() * COUNTRIES.length)]!);
      payer.push(rand() < 0.02 ? null : spend > 0);
      lastLogin.push(rand() < 0.04 ? null : new Date(BASE_TIME - Math.floor(rand() * 30 * 86_400_000)));
      const n = Math.floor(rand() * 4);
      tags.push(rand() < 0.1 ? null : TAGS.slice(0, TAGS.length).filter(() => rand() < n / TAGS.length));
      const churnScore = Math.round(rand() * 1000) / 1000;
      churn.push(churnScore);
      const mine = new Set<string>();
      if (spend > 1000) mine.add('whale');
      else if (spend > 20) mine.add('dolphin');
      else if (spend > 0) mine.add('minnow');
      if (churnScore > 0.8) mine.add('churn_risk_high');
      if (rand() < 0.15) mine.add('lapsed_7d');
      if (spend === 0 && rand() < 0.4) mine.add('starter_pack_eligible');
      if (rand() < 0.1) mine.add('new_player');
      if (spend > 2000 && rand() < 0.5) mine.add('vip');
      for (const s of mine) {
        segIds.push(id);
        segs.push(s);
      }
    }
    const part = `part-${String(f).padStart(5, '0')}.parquet`;
    const featureFile = path.join(opts.dir, 'player_features', part);
    writeParquet(featureFile, [
      { name: 'player_id', type: 'string', data: ids, nullable: false },
      { name: 'ltv', type: 'double', data: ltv },
      { name: 'level', type: 'int64', data: level },
      { name: 'country', type: 'string', data: country },
      { name: 'is_payer', type: 'bool', data: payer },
      { name: 'last_login', type: 'timestamp_ms', data: lastLogin },
      { name: 'tags', type: 'string_list', data: tags },
      { name: 'churn_score', type: 'double', data: churn },
    ]);
    featureFiles.push(featureFile);
    const segmentFile = path.join(opts.dir, 'player_segments', part);
    writeParquet(segmentFile, [
      { name: 'player_id', type: 'string', data: segIds, nullable: false },
      { name: 'segment', type: 'string', data: segs, nullable: false },
    ]);
    segmentFiles.push(segmentFile);
    segmentRows += segIds.length;
  }
  return { players, featureFiles, segmentFiles, segmentRows };
}

/** The embedded default config: the sample lake's two datasets. */
export function sampleConfigDocument(lakeDir: string): Record<string, unknown> {
  return {
    datasets: [
      {
        name: 'player_features', kind: 'features',
        source: { format: 'parquet', uri: path.join(lakeDir, 'player_features') },
        key: 'player_id',
        columns: { ltv: 'double', level: 'int64', country: 'string', is_payer: 'bool', last_login: 'timestamp', tags: 'string_list', churn_score: 'double' },
        defaults: { ltv: 0 },
        keep_versions: 3,
      },
      {
        name: 'player_segments', kind: 'segments',
        source: { format: 'parquet', uri: path.join(lakeDir, 'player_segments') },
        key: 'player_id', segment_column: 'segment',
      },
    ],
  };
}
