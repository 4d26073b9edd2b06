import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Answers held open on purpose (wait= long-polls, SSE) end as soon as the server begins to close,
 * instead of holding the shutdown until its grace period cuts them. Each connection is tagged
 * with its own server's signal (tests run many servers in one process, so there is no global).
 */
const closingOf = new WeakMap<Socket, AbortSignal>();

/** Tags every connection of `server` with `closing`, which fires when the server begins to close. */
export function tagConnections(server: Server, closing: AbortSignal): void {
  server.on('connection', (socket: Socket) => closingOf.set(socket, closing));
}

/**
 * Calls `end` once the server that `res` belongs to begins to close (at once if it has), until
 * `res` closes. The connection is not kept alive after that answer: the server is going away.
 */
export function onServerClosing(res: ServerResponse, end: () => void): void {
  const socket = res.socket;
  const closing = socket ? closingOf.get(socket) : undefined;
  if (!socket || !closing) return;
  const stop = () => {
    if (!res.headersSent) res.setHeader('connection', 'close');
    else res.once('finish', () => socket.end()); // an SSE stream: its headers said keep-alive
    end();
  };
  if (closing.aborted) {
    stop();
    return;
  }
  closing.addEventListener('abort', stop, { once: true });
  res.once('close', () => closing.removeEventListener('abort', stop));
}
