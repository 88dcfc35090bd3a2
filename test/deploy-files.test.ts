/**
 * The deployment files (Dockerfile, docker-compose.yml, deploy/k8s/*.yaml) are checked against
 * malt itself: the config they ship passes malt's config validation, the ports they open are the
 * config's, the probes ask a real serving app for routes it has, and every `malt <command>` they
 * run exists in the CLI. No Docker engine or cluster is needed.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import picomatch from 'picomatch';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServingApp } from '../src/app.js';
import { assertExposureAllowed } from '../src/auth/exposure.js';
import { loadConfig, type MaltConfig } from '../src/config.js';
import { call, type ServingClient } from '../src/serving/grpc-client.js';
import {
  type ComposeFile, type Container, type K8sObject, type MaltInvocation, type PodFailurePolicy, type PodTemplate, type Probe, K8S_DIR, REPO, argvOf, composeEnv,
  dockerInstructions, helpOf, instructionArgv, k8sObjects, maltInvocations, manifestFiles, packagesImported, parseYamlFile, selects, workloads,
} from './support/deploy-manifests.js';
import { featuresDataset, load, redisUrl, serve, tmpDir, uniquePrefix, writePlayers } from './support/fixtures.js';

/** The apiVersion each kind the manifests may use must have (all GA APIs). */
const API_VERSIONS: Record<string, string> = {
  ConfigMap: 'v1', Secret: 'v1', Service: 'v1',
  Deployment: 'apps/v1', Job: 'batch/v1', CronJob: 'batch/v1',
  HorizontalPodAutoscaler: 'autoscaling/v2', PodDisruptionBudget: 'policy/v1',
};
/** Container fields the manifests may set; anything else is a typo Kubernetes would reject or ignore. */
const CONTAINER_KEYS = new Set(['name', 'image', 'imagePullPolicy', 'command', 'args', 'ports', 'env', 'envFrom', 'livenessProbe',
  'readinessProbe', 'startupProbe', 'resources', 'securityContext', 'volumeMounts', 'lifecycle', 'workingDir']);
const PROBE_KEYS = new Set(['httpGet', 'grpc', 'tcpSocket', 'exec', 'initialDelaySeconds', 'periodSeconds', 'timeoutSeconds',
  'failureThreshold', 'successThreshold', 'terminationGracePeriodSeconds']);
const CONFIG_MOUNT = '/etc/malt';

const docs = k8sObjects();
const objects = docs.map((d) => d.object);
const byKind = (kind: string): K8sObject[] => objects.filter((o) => o.kind === kind);
const dockerfile = dockerInstructions(readFileSync(path.join(REPO, 'Dockerfile'), 'utf8'));
const compose = parseYamlFile(path.join(REPO, 'docker-compose.yml'))[0] as ComposeFile;
/** The env the image sets (ENV lines of the last stage), which the config loader sees too. */
const imageEnv: Record<string, string> = Object.fromEntries(
  dockerfile.slice(dockerfile.map((i) => i.op).lastIndexOf('FROM')).filter((i) => i.op === 'ENV')
    .flatMap((i) => i.args.split(/\s+/).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)] as const)),
);

function configMapConfig(env: Record<string, string>): MaltConfig {
  const cm = byKind('ConfigMap').find((o) => o.data?.['malt.yaml'] !== undefined);
  if (!cm?.data) throw new Error('no ConfigMap with a malt.yaml key');
  return loadConfig({ document: parseYaml(cm.data['malt.yaml'] ?? ''), env, baseDir: CONFIG_MOUNT });
}

/** A Secret's value as the cluster would give it to a container. */
function secretValue(name: string, key: string): string | undefined {
  const s = byKind('Secret').find((o) => o.metadata.name === name);
  return s?.stringData?.[key] ?? (s?.data?.[key] === undefined ? undefined : Buffer.from(s.data[key] ?? '', 'base64').toString('utf8'));
}

/** The environment a container runs with: the image's ENV, then its env with Secret values filled in. */
function containerEnv(c: Container): Record<string, string> {
  const env: Record<string, string> = { ...imageEnv };
  for (const e of c.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    const value = e.value ?? (ref ? secretValue(ref.name, ref.key) : undefined);
    if (value === undefined) throw new Error(`${c.name}: env ${e.name} has no value`);
    env[e.name] = value;
  }
  return env;
}

const serveContainer = (): Container => {
  const c = workloads(docs).flatMap((w) => w.template.spec.containers).find((x) => maltInvocations('', [...argvOf(x.command), ...(x.args ?? [])])[0]?.command === 'serve');
  if (!c) throw new Error('no container runs malt serve');
  return c;
};

function portNumber(c: Container, port: string | number): number | undefined {
  return typeof port === 'number' ? port : c.ports?.find((p) => p.name === port)?.containerPort;
}

describe('Kubernetes manifests', () => {
  it('every document has apiVersion, kind and metadata.name, with the apiVersion its kind needs, each kind/name once', () => {
    expect(docs.length).toBeGreaterThan(0);
    const seen = new Set<string>();
    for (const { file, object } of docs) {
      expect(API_VERSIONS[object.kind], `${file}: unknown kind ${object.kind}`).toBeDefined();
      expect(object.apiVersion, `${file}: ${object.kind}`).toBe(API_VERSIONS[object.kind]);
      expect(object.metadata?.name, `${file}: metadata.name`).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      const id = `${object.kind}/${object.metadata.name}`;
      expect(seen.has(id), `${id} defined twice`).toBe(false);
      seen.add(id);
    }
    for (const kind of ['Deployment', 'Service', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'CronJob', 'Job', 'ConfigMap', 'Secret']) {
      expect(byKind(kind).length, kind).toBeGreaterThan(0);
    }
  });

  it('kustomization.yaml lists every manifest file but the on-demand Indexed Job', () => {
    const k = parseYamlFile(path.join(K8S_DIR, 'kustomization.yaml'))[0] as { kind: string; resources: string[] };
    expect(k.kind).toBe('Kustomization');
    expect([...k.resources].sort()).toEqual(manifestFiles().filter((f) => f !== 'load-indexed-job.yaml'));
  });

  it('Deployment selectors match their pod labels; Services, PDBs and HPAs point at a Deployment', () => {
    const deployments = byKind('Deployment');
    for (const d of deployments) expect(selects(d.spec?.selector?.matchLabels, d.spec?.template?.metadata?.labels), d.metadata.name).toBe(true);
    const selectsADeployment = (sel: Record<string, string> | undefined): boolean =>
      deployments.some((d) => selects(sel, d.spec?.template?.metadata?.labels));
    for (const s of byKind('Service')) expect(selectsADeployment(s.spec?.selector), `Service ${s.metadata.name}`).toBe(true);
    for (const p of byKind('PodDisruptionBudget')) expect(selectsADeployment(p.spec?.selector?.matchLabels), `PDB ${p.metadata.name}`).toBe(true);
    for (const h of byKind('HorizontalPodAutoscaler')) {
      const ref = h.spec?.scaleTargetRef;
      expect(ref?.apiVersion).toBe('apps/v1');
      expect(deployments.map((d) => `${d.kind}/${d.metadata.name}`)).toContain(`${ref?.kind}/${ref?.name}`);
      expect(h.spec?.minReplicas).toBeGreaterThanOrEqual(2); // with the PDB's maxUnavailable 1, a drain keeps one serving
      expect(h.spec?.maxReplicas).toBeGreaterThanOrEqual(h.spec?.minReplicas ?? Infinity);
    }
  });

  it('every referenced ConfigMap and Secret key is defined', () => {
    const keysOf = (kind: string, name: string): string[] => {
      const o = byKind(kind).find((x) => x.metadata.name === name);
      return Object.keys({ ...o?.data, ...o?.stringData });
    };
    for (const { doc, template } of workloads(docs)) {
      for (const v of template.spec.volumes ?? []) {
        if (v.configMap) expect(keysOf('ConfigMap', v.configMap.name), `${doc.file}: ConfigMap ${v.configMap.name}`).toContain('malt.yaml');
      }
      for (const e of template.spec.containers.flatMap((c) => c.env ?? [])) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref) expect(keysOf('Secret', ref.name), `${doc.file}: ${e.name}`).toContain(ref.key);
      }
    }
  });

  it('every pod runs non-root on a read-only root filesystem, with requests and a memory limit, and reads the ConfigMap', () => {
    const imageUser = Number(dockerfile.filter((i) => i.op === 'USER').at(-1)?.args.split(':')[0]);
    for (const { doc, template } of workloads(docs)) {
      const where = `${doc.file} (${doc.object.kind} ${doc.object.metadata.name})`;
      expect(template.spec.securityContext?.runAsNonRoot, where).toBe(true);
      expect(template.spec.securityContext?.runAsUser, where).toBe(imageUser);
      const configVolume = template.spec.volumes?.find((v) => v.configMap)?.name;
      for (const c of template.spec.containers) {
        expect(Object.keys(c).filter((k) => !CONTAINER_KEYS.has(k)), `${where}: unknown container fields`).toEqual([]);
        for (const p of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
          if (p) expect(Object.keys(p).filter((k) => !PROBE_KEYS.has(k)), `${where}: unknown probe fields`).toEqual([]);
        }
        expect(c.image, where).toMatch(/\/malt:/);
        expect(c.securityContext, where).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
        expect(c.resources?.requests?.['cpu'], where).toBeDefined();
        expect(c.resources?.requests?.['memory'], where).toBeDefined();
        expect(c.resources?.limits?.['memory'], where).toBeDefined();
        expect(c.volumeMounts?.find((m) => m.name === configVolume)?.mountPath, where).toBe(CONFIG_MOUNT);
        expect(maltInvocations(where, [...argvOf(c.command), ...(c.args ?? [])]).length, `${where}: runs malt`).toBeGreaterThan(0);
        expect([...argvOf(c.command), ...(c.args ?? [])].join(' '), where).toContain(`-c ${CONFIG_MOUNT}/malt.yaml`);
      }
    }
  });

  it("the ConfigMap's malt.yaml passes malt's config validation, and the serve container's ports are the config's", () => {
    const c = serveContainer();
    const config = configMapConfig(containerEnv(c));
    expect(config.serving.host).toBe('0.0.0.0');
    // Beyond loopback malt starts only with API keys (here from the Secret) or `auth: none`.
    expect(config.auth.keys.length).toBeGreaterThan(0);
    expect(() => assertExposureAllowed(config)).not.toThrow();
    expect(portNumber(c, 'http')).toBe(config.serving.httpPort);
    expect(portNumber(c, 'grpc')).toBe(config.serving.grpcPort);
    for (const s of byKind('Service')) {
      for (const p of s.spec?.ports ?? []) expect(portNumber(c, p.targetPort), `Service ${s.metadata.name} port ${p.name}`).toBe(p.name === 'grpc' ? config.serving.grpcPort : config.serving.httpPort);
    }
  });

  it('the Indexed Job loads each dataset of the ConfigMap once, and load Jobs fail at once on exit 2 and 3', () => {
    const datasets = configMapConfig(containerEnv(serveContainer())).datasets.map((d) => d.name);
    const job = byKind('Job').find((j) => j.spec?.completionMode === 'Indexed');
    expect(job, 'an Indexed Job').toBeDefined();
    expect(job?.spec?.completions).toBe(datasets.length);
    const script = job?.spec?.template?.spec.containers[0]?.args?.join('\n') ?? '';
    expect(script.match(/set -- (.*)/)?.[1]?.trim().split(/\s+/)).toEqual(datasets);
    expect(script).toContain('$JOB_COMPLETION_INDEX');
    const jobSpecs: ({ template?: PodTemplate; podFailurePolicy?: PodFailurePolicy } | undefined)[] =
      [...byKind('Job').map((x) => x.spec), ...byKind('CronJob').map((x) => x.spec?.jobTemplate?.spec)];
    for (const j of jobSpecs) {
      const fail = j?.podFailurePolicy?.rules.find((r) => r.action === 'FailJob' || r.action === 'FailIndex');
      // docs/operations.md#exit-codes: 2 = config error, 3 = refused; a retry fails the same way.
      expect(fail?.onExitCodes).toMatchObject({ operator: 'In', values: [2, 3] });
      expect(j?.template?.spec.restartPolicy, 'podFailurePolicy needs restartPolicy Never').toBe('Never');
    }
  });
});

describe('docker-compose.yml', () => {
  const services = compose.services;

  it('runs Redis, malt serve, malt sync and malt consume; depends_on names healthy services', () => {
    expect(Object.keys(services).sort()).toEqual(['consume', 'redis', 'serve', 'sync']);
    for (const [name, s] of Object.entries(services)) {
      expect(s.healthcheck, `${name}: healthcheck set (or disabled on purpose)`).toBeDefined();
      if (!s.healthcheck?.disable) expect(argvOf(s.healthcheck?.test).length, `${name}: healthcheck test`).toBeGreaterThan(0);
      const deps: Record<string, { condition?: string }> = Array.isArray(s.depends_on)
        ? Object.fromEntries(s.depends_on.map((d) => [d, {}]))
        : (s.depends_on ?? {});
      for (const [dep, cond] of Object.entries(deps)) {
        expect(services[dep], `${name} depends on undefined service ${dep}`).toBeDefined();
        expect(cond.condition, `${name} → ${dep}`).toBe('service_healthy');
        expect(services[dep]?.healthcheck?.disable, `${dep} must have a healthcheck`).not.toBe(true);
      }
    }
    for (const name of ['serve', 'sync', 'consume']) expect(Object.keys(services[name]?.depends_on ?? {}), name).toContain('redis');
  });

  it('Redis never evicts and persists (AOF), on a named volume', () => {
    const args = argvOf(services['redis']?.command);
    const flag = (f: string): string | undefined => args[args.indexOf(f) + 1];
    expect(flag('--maxmemory-policy')).toBe('noeviction');
    expect(flag('--appendonly')).toBe('yes');
    const dataVolume = (services['redis']?.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[0] : v.source));
    expect(Object.keys(compose.volumes ?? {})).toEqual(expect.arrayContaining(dataVolume));
  });

  it("malt services point REDIS_URL at the Redis service and mount a config that passes malt's validation; serve publishes the config's ports", () => {
    for (const name of ['serve', 'sync', 'consume']) {
      const s = services[name];
      if (!s) throw new Error(`no ${name} service`);
      const env = { ...imageEnv, ...composeEnv(s) };
      expect(new URL(env['REDIS_URL'] ?? '').hostname, name).toBe('redis');
      const mount = (s.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':') : [v.source, v.target]))
        .find(([, target]) => target === env['MALT_CONFIG']);
      expect(mount, `${name}: MALT_CONFIG is mounted`).toBeDefined();
      const file = path.resolve(REPO, mount?.[0] ?? '');
      expect(existsSync(file), file).toBe(true);
      const config = loadConfig({ path: file, env });
      if (name === 'serve') {
        const published = (s.ports ?? []).map((p) => (typeof p === 'string' ? Number(p.split(':').at(-1)) : p.target));
        expect(published.sort()).toEqual([config.serving.httpPort, config.serving.grpcPort].sort());
        expect(config.serving.host).toBe('0.0.0.0');
        expect(() => assertExposureAllowed(config)).not.toThrow();
      }
    }
  });
});

describe('Dockerfile', () => {
  const froms = dockerfile.filter((i) => i.op === 'FROM');

  it('builds on Node 24 (the current LTS) in every stage and installs production dependencies only', () => {
    expect(froms.length).toBeGreaterThan(0);
    for (const f of froms) expect(f.args).toMatch(/^node:24-/);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf(froms.at(-1) as (typeof dockerfile)[number]));
    expect(runtime.some((i) => i.op === 'RUN' && /npm ci\b.*--omit=dev/.test(i.args))).toBe(true);
  });

  it('runs as a non-root numeric USER, and its CMD runs bin/malt.js', () => {
    const user = dockerfile.filter((i) => i.op === 'USER').at(-1)?.args ?? 'root';
    expect(user.split(':')[0]).toMatch(/^[1-9][0-9]*$/);
    const cmdIndex = dockerfile.findLastIndex((i) => i.op === 'CMD' || i.op === 'ENTRYPOINT');
    expect(dockerfile.findLastIndex((i) => i.op === 'USER')).toBeLessThan(cmdIndex);
    const argv = dockerfile.filter((i) => i.op === 'ENTRYPOINT' || i.op === 'CMD').flatMap((i) => instructionArgv(i.args));
    expect(argv.slice(0, 2)).toEqual(['node', 'bin/malt.js']);
  });

  it('the production dependencies it installs cover every package the compiled code imports', () => {
    // The runtime stage has `npm ci --omit=dev`: a devDependency imported by dist/ would fail there only.
    const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const files = readdirSync(path.join(REPO, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js')).map((f) => path.join('dist', f));
    expect(files.length).toBeGreaterThan(10);
    // The scan itself: multi-line braces, re-exports, subpaths, scoped and dynamic imports.
    expect(packagesImported("import {\n  a,\n} from 'vitest';\nexport * from './x.js';\nimport 'node:fs';\nconst m = await import('@scope/pkg/sub');"))
      .toEqual(['vitest', '@scope/pkg']);
    const missing = [...files, 'bin/malt.js'].flatMap((f) =>
      packagesImported(readFileSync(path.join(REPO, f), 'utf8')).filter((name) => pkg.dependencies[name] === undefined).map((name) => `${name} (${f})`));
    expect(missing).toEqual([]);
  });

  it('copies only paths that exist and that .dockerignore keeps in the build context', () => {
    const ignored = readFileSync(path.join(REPO, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    const isIgnored = picomatch(ignored.flatMap((p) => [p, `${p}/**`]), { dot: true });
    const sources = dockerfile.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources).toEqual(expect.arrayContaining(['bin', 'lua', 'proto', 'src', 'package.json', 'package-lock.json']));
    for (const s of sources) {
      expect(existsSync(path.join(REPO, s)), s).toBe(true);
      expect(isIgnored(s), `${s} is excluded by .dockerignore`).toBe(false);
    }
  });
});

/** Every `bin/malt.js <command>` that Dockerfile, compose and the manifests run. */
function allInvocations(): MaltInvocation[] {
  const fromK8s = workloads(docs).flatMap(({ doc, template }) => template.spec.containers.flatMap((c) =>
    maltInvocations(`${doc.file} ${c.name}`, [...argvOf(c.command), ...(c.args ?? [])])));
  const fromCompose = Object.entries(compose.services).flatMap(([n, s]) => maltInvocations(`docker-compose.yml ${n}`, argvOf(s.command)));
  const fromDocker = dockerfile.filter((i) => i.op === 'CMD' || i.op === 'ENTRYPOINT').flatMap((i) => maltInvocations('Dockerfile', instructionArgv(i.args)));
  return [...fromK8s, ...fromCompose, ...fromDocker];
}

describe('malt commands the deployment files run', () => {
  it('exist in the CLI, with every option they pass', async () => {
    const invocations = allInvocations();
    expect(new Set(invocations.map((i) => i.command))).toEqual(new Set(['serve', 'sync', 'consume', 'load']));
    const problems: string[] = [];
    const commands = [...new Set(invocations.map((i) => i.command))];
    const helps = await Promise.all(commands.map((command) => helpOf(command)));
    for (const [n, command] of commands.entries()) {
      const r = helps[n] ?? { status: null, stdout: '' };
      // Commander prints the top-level help (exit 0) for an unknown command's --help: require its own usage line.
      if (r.status !== 0 || !r.stdout.startsWith(`Usage: malt ${command} `)) {
        problems.push(`malt ${command} does not exist (used in ${invocations.filter((i) => i.command === command).map((i) => i.where).join(', ')})`);
        continue;
      }
      for (const i of invocations.filter((x) => x.command === command)) {
        for (const o of i.options) if (!new RegExp(`(^|[\\s,])${o}[\\s,]`).test(r.stdout)) problems.push(`${i.where}: malt ${command} has no option ${o}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

function healthClient(port: number): ServingClient {
  const Health = grpc.makeGenericClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'Health');
  return new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as ServingClient;
}

describe('probes and healthchecks against a real serving app', () => {
  let app: ServingApp;
  let health: ServingClient;
  let config: MaltConfig;
  const c = serveContainer();
  const probes = { startup: c.startupProbe, liveness: c.livenessProbe, readiness: c.readinessProbe };
  // Docker's HEALTHCHECK and compose's serve healthcheck fetch a URL on the HTTP port.
  const dockerHealth = dockerfile.find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
  const composeHealth = argvOf(compose.services['serve']?.healthcheck?.test).join(' ');
  const urlPath = (s: string): string => s.match(/127\.0\.0\.1:[^/]*(\/[a-z]+)/)?.[1] ?? '(none)';

  beforeAll(async () => {
    const dir = tmpDir();
    writePlayers(path.join(dir, 'p.parquet'), [{ id: 'a', ltv: 1, level: 1, country: 'SE', is_payer: true, last_login: null, tags: null }]);
    // On loopback, with the API keys the serve Deployment gets: probes carry no credentials.
    config = loadConfig({
      document: { redis: { url: redisUrl(), key_prefix: uniquePrefix() }, serving: { http_port: 0, grpc_port: 0 }, datasets: [featuresDataset('player_features', path.join(dir, 'p.parquet'))] },
      env: { MALT_API_KEYS: containerEnv(c)['MALT_API_KEYS'] ?? '' },
      baseDir: dir,
    });
    app = await serve(config);
    health = healthClient(app.grpcPort);
  });
  afterAll(async () => {
    health?.close();
    await app?.close();
  });

  /** What a probe gets from the app: an HTTP status, or the gRPC health status. */
  async function ask(p: Probe): Promise<number | string> {
    if (p.httpGet) {
      expect(portNumber(c, p.httpGet.port)).toBe(configMapConfig(containerEnv(c)).serving.httpPort);
      return (await fetch(`http://127.0.0.1:${app.httpPort}${p.httpGet.path}`)).status;
    }
    if (p.grpc) {
      expect(p.grpc.port).toBe(configMapConfig(containerEnv(c)).serving.grpcPort);
      return (await call<{ status: string }>(health, 'Check', { service: p.grpc.service ?? '' }, 2000)).status;
    }
    throw new Error(`unsupported probe ${JSON.stringify(p)}`);
  }

  it('before any load: startup and liveness pass, readiness fails; Docker and compose healthchecks pass', async () => {
    expect(probes.startup && probes.liveness && probes.readiness, 'serve has startup, liveness and readiness probes').toBeTruthy();
    expect(await ask(probes.startup as Probe)).toBe(200);
    expect(await ask(probes.liveness as Probe)).toBe(200);
    expect(await ask(probes.readiness as Probe)).toBe(probes.readiness?.httpGet ? 503 : 'NOT_SERVING');
    // Auth is on (the Secret's keys) and data calls need a key; the probes above carried none.
    expect((await fetch(`http://127.0.0.1:${app.httpPort}/v1/entities/a`)).status).toBe(401);
    for (const check of [dockerHealth, composeHealth]) expect((await fetch(`http://127.0.0.1:${app.httpPort}${urlPath(check)}`)).status, check).toBe(200);
  });

  it('once every dataset is loaded the readiness probe passes', async () => {
    await load(config, 'player_features');
    const ready = probes.readiness?.httpGet ? 200 : 'SERVING';
    const deadline = Date.now() + 10_000;
    let got = await ask(probes.readiness as Probe);
    while (got !== ready && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      got = await ask(probes.readiness as Probe);
    }
    expect(got).toBe(ready);
    expect(await ask(probes.liveness as Probe)).toBe(200);
  });
});
