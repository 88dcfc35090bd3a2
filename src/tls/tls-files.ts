/**
 * The server's TLS material (certificate chain, key, optional client CA), read from files and
 * re-read on SIGHUP or when a file changes, without restarting either server:
 * - HTTP: listeners get the new secure context (https.Server#setSecureContext);
 * - gRPC: this is a grpc-js CertificateProvider (grpc-server-credentials.ts), which pushes updates
 *   to the server's secure context the same way.
 * A reload that fails (a file missing, a key not matching its certificate, e.g. half-written)
 * keeps the previous material and is logged; the next change or SIGHUP tries again.
 */
import type { experimental } from '@grpc/grpc-js';
import { type FSWatcher, readFileSync, watch } from 'node:fs';
import path from 'node:path';
import { type SecureContextOptions, createSecureContext } from 'node:tls';
import { MaltError } from '../errors.js';
import type { Logger } from '../telemetry/logger.js';

export interface TlsFileConfig {
  readonly cert: string;
  readonly key: string;
  readonly clientCa: string | null;
  readonly requireClientCert: boolean;
}

export interface TlsFilesOptions {
  /** Re-read on SIGHUP (default true). */
  readonly sighup?: boolean;
  /** Re-read when a file (or its folder entry, e.g. a Kubernetes secret swap) changes (default true). */
  readonly watchFiles?: boolean;
  readonly logger?: Logger;
}

interface Material {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | null;
}

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

function readMaterial(cfg: TlsFileConfig): Material {
  const m = { cert: readFileSync(cfg.cert), key: readFileSync(cfg.key), ca: cfg.clientCa === null ? null : readFileSync(cfg.clientCa) };
  // Throws on a key that does not match the certificate, or unparsable PEM.
  createSecureContext({ cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca } : {}) });
  return m;
}

export class TlsFiles implements experimental.CertificateProvider {
  private material: Material;
  private readonly changeListeners = new Set<(ctx: SecureContextOptions) => void>();
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private readonly watchers: FSWatcher[] = [];
  private readonly onSighup = (): void => {
    this.reload('SIGHUP');
  };
  private debounce: NodeJS.Timeout | null = null;
  private closed = false;
  /** Successful reloads so far (tests and logs). */
  reloads = 0;

  constructor(readonly config: TlsFileConfig, private readonly options: TlsFilesOptions = {}) {
    try {
      this.material = readMaterial(config);
    } catch (err) {
      throw new MaltError('CONFIG_INVALID', `tls: cannot use ${config.cert} / ${config.key}${config.clientCa ? ` / ${config.clientCa}` : ''}: ${(err as Error).message}`);
    }
    if (options.sighup ?? true) process.on('SIGHUP', this.onSighup);
    if (options.watchFiles ?? true) this.watchFolders();
  }

  /** Options for `https.createServer` / fastify's `https`. */
  httpsOptions(): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
    return { ...this.contextOptions(), requestCert: this.config.clientCa !== null, rejectUnauthorized: this.config.requireClientCert };
  }

  contextOptions(): SecureContextOptions {
    const m = this.material;
    return { cert: m.cert, key: m.key, ...(m.ca ? { ca: m.ca } : {}) };
  }

  /** Calls `fn` with the new context after every successful reload; returns the unsubscribe. */
  onChange(fn: (ctx: SecureContextOptions) => void): () => void {
    this.changeListeners.add(fn);
    return () => this.changeListeners.delete(fn);
  }

  /** Re-reads the files now; returns whether the new material is in use. */
  reload(reason = 'reload'): boolean {
    if (this.closed) return false;
    let next: Material;
    try {
      next = readMaterial(this.config);
    } catch (err) {
      this.options.logger?.warn(`tls: ${reason}: keeping the current certificate: ${(err as Error).message}`);
      return false;
    }
    const same = next.cert.equals(this.material.cert) && next.key.equals(this.material.key) && (next.ca === null ? this.material.ca === null : this.material.ca !== null && next.ca.equals(this.material.ca));
    if (same) return true;
    this.material = next;
    this.reloads++;
    const ctx = this.contextOptions();
    for (const fn of this.changeListeners) {
      try {
        fn(ctx);
      } catch (err) {
        this.options.logger?.warn(`tls: ${reason}: a listener refused the new certificate: ${(err as Error).message}`);
      }
    }
    for (const l of this.identityListeners) l({ certificate: next.cert, privateKey: next.key });
    if (next.ca) for (const l of this.caListeners) l({ caCertificate: next.ca });
    this.options.logger?.info(`tls: ${reason}: serving the certificate from ${this.config.cert}`);
    return true;
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    if (this.material.ca) listener({ caCertificate: this.material.ca });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    listener({ certificate: this.material.cert, privateKey: this.material.key });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    process.off('SIGHUP', this.onSighup);
    if (this.debounce) clearTimeout(this.debounce);
    for (const w of this.watchers) w.close();
    this.changeListeners.clear();
  }

  /** Watches each file's folder (a secret swap renames entries, which a watch on the file misses). */
  private watchFolders(): void {
    const files = [this.config.cert, this.config.key, ...(this.config.clientCa ? [this.config.clientCa] : [])];
    const names = new Set(files.map((f) => path.basename(f)));
    for (const dir of new Set(files.map((f) => path.dirname(f)))) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (name !== null && !names.has(String(name)) && !String(name).startsWith('..')) return;
          if (this.debounce) clearTimeout(this.debounce);
          // Writers replace cert and key in two steps; wait for both before reading.
          this.debounce = setTimeout(() => this.reload('file change'), 200);
        });
        w.on('error', () => undefined);
        this.watchers.push(w);
      } catch (err) {
        this.options.logger?.warn(`tls: cannot watch ${dir} (SIGHUP still reloads): ${(err as Error).message}`);
      }
    }
  }
}
