/**
 * The ObjectStore over local disk. Locations are absolute paths; list() sorts by path so results
 * match S3's byte-ordered listings.
 */
import { open as openFile, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { MaltError } from '../errors.js';
import type { AsyncBuffer, ListOptions, ObjectInfo, ObjectStore } from './object-store.js';

/**
 * A local file's stand-in for an S3 ETag: inode, nanosecond mtime and ctime. Any write to the
 * file (even a same-size rewrite that restores the old mtime with utimes) moves its ctime, so a
 * fingerprint of the listing sees every change without reading a byte of the file.
 */
function localIdentity(st: { ino: bigint; mtimeNs: bigint; ctimeNs: bigint }): string {
  return `${st.ino.toString(36)}-${st.mtimeNs.toString(36)}-${st.ctimeNs.toString(36)}`;
}

function info(location: string, st: { size: bigint; mtimeMs: bigint; ino: bigint; mtimeNs: bigint; ctimeNs: bigint }): ObjectInfo {
  return { location, size: Number(st.size), mtimeMs: Number(st.mtimeNs / 1_000_000n), etag: localIdentity(st) };
}

async function readRange(location: string, start: number, end: number): Promise<Uint8Array> {
  const fh = await openFile(location, 'r');
  try {
    const out = new Uint8Array(Math.max(0, end - start));
    let off = 0;
    while (off < out.length) {
      const { bytesRead } = await fh.read(out, off, out.length - off, start + off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return off === out.length ? out : out.subarray(0, off);
  } finally {
    await fh.close();
  }
}

function unreadable(location: string, err: unknown): MaltError {
  return new MaltError('SOURCE_UNREADABLE', `cannot read ${location}: ${(err as Error).message}`);
}

export class LocalObjectStore implements ObjectStore {
  readonly scheme = 'file' as const;

  async *list(dir: string, options: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const root = path.resolve(dir);
    const found: ObjectInfo[] = [];
    const walk = async (d: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(d, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw unreadable(d, err);
      }
      for (const e of entries) {
        const full = path.join(d, e.name);
        if (e.isDirectory()) {
          if (options.recursive) await walk(full);
        } else if (e.isFile()) {
          if (options.startAfter !== undefined && !(Buffer.compare(Buffer.from(full), Buffer.from(options.startAfter)) > 0)) continue;
          found.push(info(full, await stat(full, { bigint: true })));
        }
      }
    };
    await walk(root);
    found.sort((a, b) => Buffer.compare(Buffer.from(a.location), Buffer.from(b.location)));
    yield* found;
  }

  async head(location: string): Promise<ObjectInfo | null> {
    try {
      const st = await stat(location, { bigint: true });
      return st.isFile() ? info(location, st) : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
      throw unreadable(location, err);
    }
  }

  async read(location: string, start?: number, end?: number): Promise<Uint8Array> {
    try {
      const from = start ?? 0;
      const to = end ?? (await stat(location)).size;
      return await readRange(location, from, to);
    } catch (err) {
      throw unreadable(location, err);
    }
  }

  async open(location: string, size?: number): Promise<AsyncBuffer> {
    let byteLength = size;
    if (byteLength === undefined) {
      try {
        byteLength = (await stat(location)).size;
      } catch (err) {
        throw unreadable(location, err);
      }
    }
    const read = (s: number, e: number) => this.read(location, s, e);
    return {
      byteLength,
      async slice(start: number, end: number = byteLength as number): Promise<ArrayBuffer> {
        const bytes = await read(start, end);
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      },
    };
  }

  join(base: string, ...parts: string[]): string {
    return path.join(base, ...parts);
  }
}
