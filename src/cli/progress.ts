/**
 * Progress of a task being waited for. On a terminal: one line redrawn in place (spinner, state,
 * progress %, queue position, estimate, elapsed time). Piped: one plain line per state change,
 * queue move or ten percent, so logs and `grep` stay readable.
 */

export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

/** What a status read says beyond the state (Longshot additions; each absent when unknown). */
export interface ProgressDetail {
  progress?: number;
  queuePosition?: number;
  etaSeconds?: number;
}

export interface Progress {
  /**
   * The latest known state and detail; redraws (TTY) or prints a line (piped) when the state,
   * the queue position or the progress's tens changed (not on every percent).
   */
  update(state: string, detail?: ProgressDetail): void;
  /** A side message (a retry, a hint), printed on its own line without losing the display. */
  note(text: string): void;
  /** Stops the spinner and clears the live line; later output starts on a clean line. */
  stop(): void;
}

export interface ProgressOptions {
  /** What is being waited for, e.g. "veo-3-1 0193ab…". */
  label: string;
  /** Draw in place (stdout is a terminal) or print lines. */
  tty: boolean;
  /** Use ANSI colours (TTY and NO_COLOR unset). */
  color: boolean;
  /** Where side notes go when piped (stderr), so stdout keeps one line per state. */
  notes?: OutStream;
  now?: () => number;
  /** Redraw period of the spinner on a terminal. */
  tickMs?: number;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const CLEAR_LINE = '\r\x1b[2K';

/** `m:ss`, or `h:mm:ss` past an hour. */
export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

export function paint(color: boolean, code: 'green' | 'red' | 'yellow' | 'dim' | 'cyan', text: string): string {
  if (!color) return text;
  const codes = { green: 32, red: 31, yellow: 33, dim: 2, cyan: 36 } as const;
  return `\x1b[${codes[code]}m${text}\x1b[0m`;
}

/** `42%  queue 3  eta 1:05`: the parts that are known, or ''. */
export function formatDetail(d: ProgressDetail): string {
  const parts: string[] = [];
  if (d.progress !== undefined) parts.push(`${d.progress}%`);
  if (d.queuePosition !== undefined) parts.push(`queue ${d.queuePosition}`);
  if (d.etaSeconds !== undefined) parts.push(`eta ${formatElapsed(d.etaSeconds * 1000)}`);
  return parts.join('  ');
}

export function createProgress(out: OutStream, opts: ProgressOptions): Progress {
  const now = opts.now ?? Date.now;
  const started = now();
  let state = 'submitted';
  let detail: ProgressDetail = {};
  let lastPrinted: string | null = null;
  let frame = 0;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;

  const draw = () => {
    const spinner = paint(opts.color, 'cyan', FRAMES[frame % FRAMES.length]!);
    const stateText = paint(opts.color, state === 'processing' ? 'yellow' : 'dim', state.padEnd(10));
    const more = formatDetail(detail);
    out.write(`${CLEAR_LINE}${spinner} ${opts.label}  ${stateText} ${more ? `${more}  ` : ''}elapsed ${formatElapsed(now() - started)}`);
  };

  if (opts.tty) {
    draw();
    timer = setInterval(() => {
      frame++;
      draw();
    }, opts.tickMs ?? 100);
    // Never keep the process alive just to animate.
    timer.unref();
  }

  return {
    update(next, nextDetail = {}) {
      if (stopped) return;
      state = next;
      detail = nextDetail;
      if (opts.tty) draw();
      else {
        // Piped: a line per state, queue move or ten percent, so a log stays short.
        const tens = nextDetail.progress === undefined ? undefined : Math.floor(nextDetail.progress / 10) * 10;
        const key = `${next}|${nextDetail.queuePosition}|${tens}`;
        if (key === lastPrinted) return;
        lastPrinted = key;
        const more = formatDetail(nextDetail);
        out.write(`[${formatElapsed(now() - started)}] ${next}${more ? ` ${more}` : ''}\n`);
      }
    },
    note(text) {
      if (stopped) return;
      if (opts.tty) {
        out.write(`${CLEAR_LINE}${paint(opts.color, 'dim', text)}\n`);
        draw();
      } else (opts.notes ?? out).write(`${text}\n`);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (timer) clearInterval(timer);
      if (opts.tty) out.write(CLEAR_LINE);
    },
  };
}
