import { Ajv2020 } from 'ajv/dist/2020.js';
import type { TestService } from './service.js';

/** Helpers to read the service's own OpenAPI document and hold answers against it. */

export type Doc = { paths: Record<string, Record<string, any>>; components: { schemas: Record<string, any> } & Record<string, any> } & Record<string, any>;

export async function fetchDocument(t: TestService): Promise<Doc> {
  const res = await fetch(`${t.url}/api/v1/openapi.json`);
  if (res.status !== 200) throw new Error(`openapi.json answered ${res.status}`);
  return (await res.json()) as Doc;
}

/** Every operation: [path, method, operation]. */
export function operations(doc: Doc): Array<[string, string, any]> {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => [path, method, op] as [string, string, any]));
}

/**
 * A validator of one schema of the document, with the document's components in reach of its
 * `#/components/schemas/…` references. Formats are annotations here, as the document's readers
 * are free to treat them; the `x-` keywords are ignored.
 */
export function compile(doc: Doc, schema: object) {
  let validate = compiled.get(schema);
  if (!validate) {
    const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
    validate = ajv.compile({ ...schema, components: doc.components });
    compiled.set(schema, validate);
  }
  return validate;
}
const compiled = new WeakMap<object, ReturnType<Ajv2020['compile']>>();

/** The documented JSON schema of one answer. */
function answerSchema(doc: Doc, path: string, method: string, status: number | string, media = 'application/json'): object {
  const schema = doc.paths[path]?.[method]?.responses?.[String(status)]?.content?.[media]?.schema;
  if (!schema) throw new Error(`no documented ${media} answer ${status} for ${method.toUpperCase()} ${path}`);
  return schema;
}

/** Asserts an answer's body is what the document says for its status; returns the errors, if any. */
export function mismatch(doc: Doc, path: string, method: string, status: number, body: unknown): string | null {
  const validate = compile(doc, answerSchema(doc, path, method, status));
  return validate(body) ? null : JSON.stringify(validate.errors);
}

/**
 * The routes Fastify registered, from `printRoutes({ commonPrefix: false })`: a tree whose lines
 * are `<indent>├── <segment> (METHODS)`, a child's segment continuing its parent's path.
 */
export function registeredRoutes(printed: string): Array<{ path: string; methods: string[] }> {
  const stack: string[] = [];
  const routes: Array<{ path: string; methods: string[] }> = [];
  for (const line of printed.split('\n')) {
    const m = /^((?:[│ ] {3})*)[├└]── (.+?)(?: \(([A-Z, ]+)\))?$/u.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    const path = (depth === 0 ? '' : stack[depth - 1]!) + m[2]!;
    stack.push(path);
    if (m[3]) routes.push({ path, methods: m[3].split(', ') });
  }
  return routes;
}
