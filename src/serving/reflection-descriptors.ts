/**
 * The file descriptors server reflection serves, made valid for strict protobuf runtimes.
 *
 * @grpc/reflection serves the descriptors @grpc/proto-loader (protobufjs) derives from the .proto
 * files, and those have relative type names ("Update", "google.protobuf.Timestamp"), no
 * dependency list, and map entry types named after the field ("Features") instead of
 * "FeaturesEntry". protobuf-go's protodesc (grpcurl, any dynamic Go client) and python's
 * descriptor pool refuse them, so a client that learns the API by reflection could list
 * malt.v1.Serving but not call it (test/grpc-interop.test.ts). Here every type reference is made
 * fully qualified, map entries get their standard name, and each file lists what it imports.
 */
import { createRequire } from 'node:module';
import type { PackageDefinition } from '@grpc/proto-loader';

interface FieldProto { name: string; typeName?: string }
interface MessageProto { name: string; field?: FieldProto[]; nestedType?: MessageProto[]; enumType?: { name: string }[]; options?: { mapEntry?: boolean } }
interface MethodProto { inputType?: string; outputType?: string }
export interface FileProto { name: string; package?: string; dependency?: string[]; messageType?: MessageProto[]; enumType?: { name: string }[]; service?: { method?: MethodProto[] }[] }
interface Codec<T> {
  decode(b: Uint8Array): unknown;
  toObject(m: unknown): T;
  fromObject(o: T): unknown;
  encode(m: unknown): { finish(): Uint8Array };
}

// protobufjs's descriptor codec, resolved as @grpc/reflection (whose dependency it is) resolves it.
const reflectionRequire = createRequire(createRequire(import.meta.url).resolve('@grpc/reflection'));
const { FileDescriptorProto: fileCodec } = reflectionRequire('protobufjs/ext/descriptor') as { FileDescriptorProto: Codec<FileProto> };

export const decodeFile = (b: Uint8Array): FileProto => fileCodec.toObject(fileCodec.decode(b));
export const encodeFile = (f: FileProto): Buffer => Buffer.from(fileCodec.encode(fileCodec.fromObject(f)).finish());

/** `def` with every type's fileDescriptorProtos replaced by valid ones (the files fixed together). */
export function strictDescriptors(def: PackageDefinition): PackageDefinition {
  const files = new Map<string, FileProto>();
  for (const entry of Object.values(def)) {
    for (const b of (entry as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos ?? []) {
      const f = decodeFile(b);
      if (!files.has(f.name)) files.set(f.name, f);
    }
  }
  const fixed = new Map(fixFiles([...files.values()]).map((f) => [f.name, encodeFile(f)]));
  const out: PackageDefinition = {};
  for (const [name, entry] of Object.entries(def)) {
    const protos = (entry as { fileDescriptorProtos?: Buffer[] }).fileDescriptorProtos;
    out[name] = protos ? { ...entry, fileDescriptorProtos: protos.map((b) => fixed.get(decodeFile(b).name)!) } as typeof entry : entry;
  }
  return out;
}

/** Fully qualified type names, map entries named <Field>Entry, and each file's dependencies. */
export function fixFiles(files: readonly FileProto[]): FileProto[] {
  const copies = files.map((f) => structuredClone(f));
  const owner = new Map<string, string>(); // ".pkg.Type" → the file that defines it
  const index = (scope: string, file: string, msgs: MessageProto[] = [], enums: { name: string }[] = []): void => {
    for (const e of enums) owner.set(`${scope}.${e.name}`, file);
    for (const m of msgs) {
      for (const n of m.nestedType ?? []) if (n.options?.mapEntry && !n.name.endsWith('Entry')) renameEntry(m, n);
      owner.set(`${scope}.${m.name}`, file);
      index(`${scope}.${m.name}`, file, m.nestedType, m.enumType);
    }
  };
  for (const f of copies) index(f.package ? `.${f.package}` : '', f.name, f.messageType, f.enumType);
  // protoc's rule: look the name up in the innermost scope first, then each enclosing one.
  const resolve = (scope: string, name: string, deps: Set<string>): string => {
    let full = name.startsWith('.') ? name : undefined;
    for (let s = scope; full === undefined; s = s.slice(0, Math.max(0, s.lastIndexOf('.')))) {
      if (owner.has(`${s}.${name}`)) full = `${s}.${name}`;
      else if (s === '') throw new Error(`descriptor: cannot resolve ${name} in ${scope}`);
    }
    const file = owner.get(full);
    if (file) deps.add(file);
    return full;
  };
  for (const f of copies) {
    const deps = new Set<string>(f.dependency ?? []);
    const pkg = f.package ? `.${f.package}` : '';
    const messages = (scope: string, msgs: MessageProto[] = []): void => {
      for (const m of msgs) {
        for (const fl of m.field ?? []) if (fl.typeName) fl.typeName = resolve(`${scope}.${m.name}`, fl.typeName, deps);
        messages(`${scope}.${m.name}`, m.nestedType);
      }
    };
    messages(pkg, f.messageType);
    for (const s of f.service ?? []) {
      for (const m of s.method ?? []) {
        if (m.inputType) m.inputType = resolve(pkg, m.inputType, deps);
        if (m.outputType) m.outputType = resolve(pkg, m.outputType, deps);
      }
    }
    deps.delete(f.name);
    f.dependency = [...deps];
  }
  return copies;
}

function renameEntry(parent: MessageProto, entry: MessageProto): void {
  const old = entry.name;
  entry.name = `${old}Entry`;
  for (const fl of parent.field ?? []) if (fl.typeName === old) fl.typeName = entry.name;
}
