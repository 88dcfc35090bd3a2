/**
 * Reading the deployment files (Dockerfile, docker-compose.yml, deploy/) for
 * test/deploy-files.test.ts: parsed YAML typed as the subset of Kubernetes and Compose that the
 * test checks, the pod templates of every workload, and the `malt <command>`s containers run.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

export const REPO = path.resolve(import.meta.dirname, '../..');
export const K8S_DIR = path.join(REPO, 'deploy/k8s');

export type Labels = Record<string, string>;

export interface Probe {
  httpGet?: { path: string; port: string | number };
  grpc?: { port: number; service?: string };
  tcpSocket?: { port: string | number };
  exec?: { command: string[] };
  [k: string]: unknown;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  startupProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[] } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  [k: string]: unknown;
}

export interface Volume {
  name: string;
  configMap?: { name: string };
  secret?: { secretName: string };
  emptyDir?: object;
}

export interface PodSpec {
  containers: Container[];
  restartPolicy?: string;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  volumes?: Volume[];
}

export interface PodTemplate {
  metadata?: { labels?: Labels };
  spec: PodSpec;
}

export interface PodFailurePolicy {
  rules: { action: string; onExitCodes?: { containerName?: string; operator: string; values: number[] } }[];
}

/** One Kubernetes object as written; only the fields the test reads are typed. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Labels };
  // Each kind's spec differs; the test narrows by kind before reading it.
  spec?: {
    selector?: { matchLabels?: Labels } & Labels;
    template?: PodTemplate;
    jobTemplate?: { spec: { template: PodTemplate; podFailurePolicy?: PodFailurePolicy } };
    podFailurePolicy?: PodFailurePolicy;
    ports?: { name: string; port: number; targetPort: string | number }[];
    scaleTargetRef?: { apiVersion: string; kind: string; name: string };
    minReplicas?: number;
    maxReplicas?: number;
    completionMode?: string;
    completions?: number;
    restartPolicy?: string;
    [k: string]: unknown;
  };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

export interface ManifestDoc {
  readonly file: string;
  readonly object: K8sObject;
}

/** Every YAML document of a file; YAML errors and warnings fail the caller. */
export function parseYamlFile(file: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { merge: true, prettyErrors: true });
  // parseAllDocuments returns an EmptyStream (no documents) for an empty file.
  const list = Array.isArray(docs) ? docs : [];
  const problems = list.flatMap((d) => [...d.errors, ...d.warnings].map((e) => `${path.basename(file)}: ${e.message}`));
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return list.map((d) => d.toJS() as unknown).filter((d) => d !== null);
}

export const manifestFiles = (): string[] =>
  readdirSync(K8S_DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();

export function k8sObjects(): ManifestDoc[] {
  return manifestFiles().flatMap((file) => parseYamlFile(path.join(K8S_DIR, file)).map((object) => ({ file, object: object as K8sObject })));
}

/** The pod template of a workload (Deployment, Job, CronJob); null for other kinds. */
export function podTemplateOf(o: K8sObject): PodTemplate | null {
  if (o.kind === 'CronJob') return o.spec?.jobTemplate?.spec.template ?? null;
  if (o.kind === 'Deployment' || o.kind === 'Job') return o.spec?.template ?? null;
  return null;
}

export function workloads(docs: readonly ManifestDoc[]): { doc: ManifestDoc; template: PodTemplate }[] {
  return docs.flatMap((doc) => {
    const template = podTemplateOf(doc.object);
    return template ? [{ doc, template }] : [];
  });
}

/** True when every selector label is on the pod (a selector with no labels selects nothing here). */
export function selects(selector: Labels | undefined, labels: Labels | undefined): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
}

/** A malt invocation found in a command line: `bin/malt.js <command> [options…]`. */
export interface MaltInvocation {
  readonly where: string;
  readonly command: string;
  readonly options: readonly string[];
}

/** Finds `bin/malt.js <cmd> …` in an argv (also inside a `sh -c` script). */
export function maltInvocations(where: string, argv: readonly string[]): MaltInvocation[] {
  const text = argv.join(' ');
  const out: MaltInvocation[] = [];
  for (const m of text.matchAll(/bin\/malt\.js\s+([a-z][a-z-]*)([^\n;&|]*)/g)) {
    const options = [...(m[2] ?? '').matchAll(/(?:^|\s)(--?[a-z][a-z-]*)/g)].map((o) => o[1] ?? '');
    out.push({ where, command: m[1] ?? '', options });
  }
  return out;
}

/** Dockerfile instructions with continuation lines joined, comments dropped. */
export function dockerInstructions(text: string): { op: string; args: string }[] {
  const joined = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').replace(/\\\n/g, ' ');
  return joined.split('\n').map((l) => l.trim()).filter((l) => l !== '').map((l) => {
    const [op = '', ...rest] = l.split(/\s+/);
    return { op: op.toUpperCase(), args: rest.join(' ') };
  });
}

/** The argv of an exec-form (JSON array) or shell-form instruction. */
export function instructionArgv(args: string): string[] {
  const withoutFlags = args.replace(/^(--[a-z-]+=\S+\s+)+/, '');
  return withoutFlags.startsWith('[') ? (JSON.parse(withoutFlags) as string[]) : ['/bin/sh', '-c', withoutFlags];
}

/** Compose's subset the test reads. */
export interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string> | string[];
  ports?: (string | { target: number; published?: string | number; host_ip?: string })[];
  volumes?: (string | { type: string; source: string; target: string })[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: string[] | Record<string, { condition?: string }>;
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export function composeEnv(s: ComposeService): Record<string, string> {
  if (Array.isArray(s.environment)) {
    return Object.fromEntries(s.environment.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
  }
  return { ...(s.environment ?? {}) };
}

export const argvOf = (command: string[] | string | undefined): string[] =>
  command === undefined ? [] : Array.isArray(command) ? command : ['/bin/sh', '-c', command];

/** `node bin/malt.js <command> --help`: its exit status and output. */
export function helpOf(command: string): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(REPO, 'bin/malt.js'), command, '--help'], { encoding: 'utf8', timeout: 30_000 }, (err, stdout) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ status: err ? (err.code as number) : 0, stdout });
    });
  });
}

/** The npm packages a compiled module imports (not relative paths, not node builtins). */
export function packagesImported(js: string): string[] {
  // In tsc's output a static import or re-export ends its line with `from '<spec>';` (its braces
  // may span lines); a side-effect import starts one; a dynamic import can be anywhere.
  const patterns = [/\bfrom\s*['"]([^'"\n]+)['"];?\s*$/gm, /^\s*import\s*['"]([^'"\n]+)['"]/gm, /\bimport\(\s*['"]([^'"\n]+)['"]\s*\)/g];
  const specs = patterns.flatMap((re) => [...js.matchAll(re)].map((m) => m[1] ?? ''));
  const packages = specs.filter((s) => !s.startsWith('.') && !isBuiltin(s))
    .map((s) => (s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : (s.split('/')[0] ?? s)));
  return [...new Set(packages)];
}
