/**
 * The start-up rule for an open server: with no API keys, malt serves without authentication only
 * on a loopback address, unless the config says `auth: none` explicitly.
 */
import { MaltError } from '../errors.js';
import { isLoopbackHost } from './loopback.js';

export interface ExposureSettings {
  readonly auth: { readonly mode: 'keys' | 'none'; readonly keys: readonly unknown[] };
  readonly serving: { readonly host: string };
}

/** Throws CONFIG_INVALID when the server would listen beyond loopback with no keys and no `auth: none`. */
export function assertExposureAllowed(config: ExposureSettings): void {
  if (config.auth.mode === 'none' || config.auth.keys.length > 0 || isLoopbackHost(config.serving.host)) return;
  const problem = `serving.host: ${JSON.stringify(config.serving.host)} is not a loopback address and no API keys are configured; configure auth.keys (or MALT_API_KEYS), or set auth: none (MALT_AUTH=none) to serve without authentication on purpose`;
  throw new MaltError('CONFIG_INVALID', `invalid configuration (1 problem):\n  - ${problem}`, [problem]);
}
