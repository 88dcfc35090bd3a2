/**
 * The connection options of the Kafka clients `malt consume` creates (consumer, dead-letter
 * producer), from a dataset's `updates_kafka`: bootstrap brokers, client id, TLS (PEM files read
 * once at start) and SASL (secrets from environment variables, never from the config file).
 * Problems are reported together as CONFIG_INVALID before anything connects.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import type { SASLOptions } from '@platformatic/kafka';
import type { DatasetConfig } from '../config.js';
import { MaltError } from '../errors.js';

export type KafkaSettings = NonNullable<DatasetConfig['updatesKafka']>;

export interface KafkaConnection {
  readonly clientId: string;
  readonly bootstrapBrokers: string[];
  readonly tls?: TlsOptions;
  readonly sasl?: SASLOptions;
}

/** Connection options for `k`; `env` defaults to process.env. Throws CONFIG_INVALID listing every problem. */
export function kafkaConnection(dataset: string, k: KafkaSettings, env: NodeJS.ProcessEnv = process.env): KafkaConnection {
  const problems: string[] = [];
  const read = (what: string, file: string | null): Buffer | undefined => {
    if (file === null) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      problems.push(`updates_kafka.tls.${what}: cannot read ${file}: ${(err as Error).message}`);
      return undefined;
    }
  };
  let tls: TlsOptions | undefined;
  if (k.tls) {
    tls = { rejectUnauthorized: k.tls.rejectUnauthorized };
    const ca = read('ca', k.tls.ca), cert = read('cert', k.tls.cert), key = read('key', k.tls.key);
    if (ca) tls.ca = ca;
    if (cert) tls.cert = cert;
    if (key) tls.key = key;
    if ((k.tls.cert === null) !== (k.tls.key === null)) problems.push('updates_kafka.tls: cert and key go together');
    if (k.tls.serverName !== null) tls.servername = k.tls.serverName;
  }
  let sasl: SASLOptions | undefined;
  if (k.sasl) {
    const secret = (name: string): string | undefined => {
      const v = env[name];
      if (v === undefined || v === '') problems.push(`updates_kafka.sasl: environment variable ${name} is not set`);
      return v;
    };
    if (k.sasl.mechanism === 'OAUTHBEARER') {
      sasl = { mechanism: 'OAUTHBEARER', token: secret(k.sasl.tokenEnv) ?? '' };
    } else {
      if (k.sasl.username === null) problems.push(`updates_kafka.sasl: ${k.sasl.mechanism} needs username`);
      sasl = { mechanism: k.sasl.mechanism, username: k.sasl.username ?? '', password: secret(k.sasl.passwordEnv) ?? '' };
    }
  }
  if (problems.length > 0) throw new MaltError('CONFIG_INVALID', `dataset ${dataset}: ${problems.join('; ')}`, problems);
  return { clientId: k.clientId, bootstrapBrokers: [...k.brokers], ...(tls ? { tls } : {}), ...(sasl ? { sasl } : {}) };
}
