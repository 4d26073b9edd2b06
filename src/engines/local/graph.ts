/**
 * Small helpers for writing ffmpeg filtergraphs as text. The graph is passed to ffmpeg as one
 * argument (never through a shell), so only ffmpeg's own two levels of escaping matter.
 */

/**
 * An expression in single quotes, so commas inside it do not split the filter chain. ffmpeg
 * expressions never need a quote or a colon, and we refuse them rather than escape them.
 */
export function q(expr: string): string {
  if (/[':]/.test(expr)) throw new Error(`expression must not contain a quote or colon: ${expr}`);
  return `'${expr}'`;
}

/**
 * Escapes an arbitrary string (a file path, free text) to be one option value inside a
 * filtergraph: first for the option parser (`\ ' :`), then for the graph parser
 * (`\ ' [ ] , ;`), as documented in ffmpeg-filters "Notes on filtergraph escaping".
 */
export function escapeFilterValue(value: string): string {
  const optionLevel = value.replace(/[\\':]/g, (c) => `\\${c}`);
  return optionLevel.replace(/[\\'[\],;]/g, (c) => `\\${c}`);
}

/** Joins `key=value` options with `:`. Values must already be quoted or escaped. */
export function opts(options: Record<string, string | number>): string {
  return Object.entries(options)
    .map(([k, v]) => `${k}=${v}`)
    .join(':');
}

/** Accumulates `;`-separated filter chains and hands out unique pad labels. */
export class GraphBuilder {
  private readonly chains: string[] = [];
  private counter = 0;

  /** A fresh pad label such as `[p3]`. */
  label(prefix = 'p'): string {
    this.counter += 1;
    return `[${prefix}${this.counter}]`;
  }

  /** Adds `inputs + filters + output` and returns the output label. */
  chain(inputs: string | readonly string[], filters: readonly string[], output?: string): string {
    const out = output ?? this.label();
    const ins = typeof inputs === 'string' ? inputs : inputs.join('');
    this.chains.push(`${ins}${filters.join(',')}${out}`);
    return out;
  }

  /** Adds a source chain (no input pad). */
  source(filters: readonly string[], output?: string): string {
    return this.chain('', filters, output);
  }

  toString(): string {
    return this.chains.join(';');
  }
}
