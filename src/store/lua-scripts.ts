/**
 * Registers the Lua scripts in lua/ as ioredis commands (EVALSHA with a transparent EVAL
 * fallback). Each script's header documents its KEYS, ARGV and return codes.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

const LUA_DIR = new URL('../../lua/', import.meta.url);

const SCRIPTS = {
  maltPublish: { file: 'publish.lua', keys: 4 },
  maltRollback: { file: 'rollback.lua', keys: 3 },
  maltMarkReclaiming: { file: 'mark-reclaiming.lua', keys: 2 },
  maltUpdateManifest: { file: 'update-manifest.lua', keys: 3 },
  maltAddSegments: { file: 'add-segments.lua', keys: 1 },
  maltApplyOverlay: { file: 'apply-overlay.lua', keys: 1 },
  maltReclaimOverlay: { file: 'reclaim-overlay.lua', keys: 1 },
  maltRenewLock: { file: 'renew-lock.lua', keys: 1 },
  maltReleaseLock: { file: 'release-lock.lua', keys: 1 },
  maltTakeOverLock: { file: 'take-over-lock.lua', keys: 1 },
} as const;

export type ScriptName = keyof typeof SCRIPTS;

const sources = new Map<string, string>();

function source(file: string): string {
  let s = sources.get(file);
  if (s === undefined) {
    s = readFileSync(new URL(file, LUA_DIR), 'utf8');
    sources.set(file, s);
  }
  return s;
}

const registered = new WeakSet<Redis>();

export function registerScripts(client: Redis): void {
  if (registered.has(client)) return;
  for (const [name, def] of Object.entries(SCRIPTS)) {
    client.defineCommand(name, { numberOfKeys: def.keys, lua: source(def.file) });
  }
  registered.add(client);
}

/** Calls a registered script; ioredis adds the methods dynamically, hence the narrow cast. */
export function callScript(client: Redis, name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown> {
  registerScripts(client);
  const fn = (client as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[name];
  if (!fn) throw new Error(`script ${name} is not registered`);
  return fn.call(client, ...keys, ...args);
}
