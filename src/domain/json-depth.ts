/**
 * The deepest nesting a request body may have. APIXO's deepest field, `input.image_urls[i]`, sits
 * inside three containers (body, `input`, the array); 32 leaves clients room for metadata of
 * their own, while code that walks a body (the Idempotency-Key fingerprint, logging, a future
 * validator) never meets the thousands of levels a 1 MiB body can carry.
 */
export const MAX_JSON_DEPTH = 32;

/**
 * Whether `value` nests containers (arrays and objects) more than `limit` deep: a scalar is depth
 * 0, `{}` and `[]` are 1, `{"a":[1]}` is 2. It walks with its own stack, so a hostile body cannot
 * exhaust the call stack here, and it stops at the first container past the limit.
 */
export function exceedsJsonDepth(value: unknown, limit: number = MAX_JSON_DEPTH): boolean {
  if (!isContainer(value)) return false;
  const stack: Array<{ node: object; depth: number }> = [{ node: value, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (depth > limit) return true;
    const children = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) if (isContainer(child)) stack.push({ node: child, depth: depth + 1 });
  }
  return false;
}

const isContainer = (v: unknown): v is object => typeof v === 'object' && v !== null;
