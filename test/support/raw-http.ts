import net from 'node:net';

/**
 * A hand-driven HTTP/1.1 connection for what `fetch` cannot do: send headers and a body byte by
 * byte, send oversized or malformed requests, and see whether (and when) the server closes.
 */
export interface RawConnection {
  socket: net.Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** True once the connection closed; `byServer` when this side had not destroyed it. */
  readonly closed: boolean;
  readonly closedByServer: boolean;
  /** Resolves when the connection has closed (or after `ms`, to `false`). */
  whenClosed(ms: number): Promise<boolean>;
  /** Writes `byte` every `everyMs` until the connection closes (a slow body or header). */
  trickle(everyMs: number, byte?: string): void;
  destroy(): void;
}

export function rawConnect(url: string, first = ''): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let data = '';
    let closed = false;
    let byUs = false;
    let timer: NodeJS.Timeout | undefined;
    const waiters: Array<() => void> = [];
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (data += d));
    socket.on('error', () => {}); // a reset is one way the server closes
    socket.on('close', () => {
      closed = true;
      clearInterval(timer);
      for (const w of waiters.splice(0)) w();
    });
    socket.once('connect', () => {
      if (first) socket.write(first);
      resolve(conn);
    });
    socket.once('error', reject);
    const conn: RawConnection = {
      socket,
      received: () => data,
      get closed() {
        return closed;
      },
      get closedByServer() {
        return closed && !byUs;
      },
      whenClosed(ms) {
        if (closed) return Promise.resolve(true);
        return new Promise((res) => {
          const t = setTimeout(() => res(false), ms);
          waiters.push(() => {
            clearTimeout(t);
            res(true);
          });
        });
      },
      trickle(everyMs, byte = 'a') {
        timer = setInterval(() => {
          if (!socket.destroyed) socket.write(byte);
        }, everyMs);
      },
      destroy() {
        if (!closed) byUs = true;
        clearInterval(timer);
        socket.destroy();
      },
    };
  });
}

/** The first response in `text`: status and the JSON body (when it is JSON). */
export function firstResponse(text: string): { status: number; headers: string; body: any } | null {
  const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(text);
  if (!m) return null;
  const length = /(?:^|\r\n)content-length: *(\d+)/i.exec(m[2]!)?.[1];
  const raw = length === undefined ? m[3]! : m[3]!.slice(0, Number(length));
  let body: unknown = raw;
  try {
    body = JSON.parse(raw);
  } catch {
    // not JSON: keep the text
  }
  return { status: Number(m[1]), headers: m[2]!, body };
}
