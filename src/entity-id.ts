/**
 * Entity ids (player ids) are strings on the wire: non-empty, at most 256 UTF-8 bytes, and free
 * of control characters. Loaders reject such rows; serving refuses such requests.
 */
export const MAX_ENTITY_ID_BYTES = 256;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Returns why an id is invalid, or null when it is fine. */
export function entityIdProblem(id: unknown): string | null {
  if (typeof id !== 'string') return 'entity id must be a string';
  if (id.length === 0) return 'entity id is empty';
  if (id.length > MAX_ENTITY_ID_BYTES / 3 && Buffer.byteLength(id, 'utf8') > MAX_ENTITY_ID_BYTES) {
    return `entity id is longer than ${MAX_ENTITY_ID_BYTES} bytes`;
  }
  if (CONTROL.test(id)) return 'entity id contains control characters';
  return null;
}
