import { randomUUID } from 'node:crypto';
import { type IncomingMessage, maxHeaderSize, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import type { HttpServerLimits } from '../config.js';
import { envelope } from './api-error.js';

/**
 * Requests that never become a request: malformed HTTP, headers over Node's limit, or a client
 * too slow to send its headers or body within the timeouts. Node reports them on the socket
 * ('clientError') before any route runs; they are answered here in the API's envelope, where an
 * answer can still be written, and the connection is closed.
 */

/** The answer to the request that arrived last on each connection. */
const lastAnswer = new WeakMap<Socket, ServerResponse>();

/** Called for every request, so a client error can tell whether its request was answered already. */
export function noteRequest(req: IncomingMessage, res: ServerResponse): void {
  lastAnswer.set(req.socket, res);
}

/**
 * Whether nothing may be written: an answer is on its way (a download still streaming), or was
 * already sent to the request still arriving (a 401 to a client still trickling its body).
 */
function answered(socket: Socket): boolean {
  const res = lastAnswer.get(socket);
  return res?.headersSent === true && (!res.writableFinished || !res.req.complete);
}

function describe(code: string | undefined, limits: HttpServerLimits): { status: number; error: string } {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        error: `the request was not received in time: headers within ${limits.headersTimeoutMs} ms, headers and body within ${limits.requestTimeoutMs} ms`,
      };
    case 'HPE_HEADER_OVERFLOW':
      return { status: 431, error: `the request headers are larger than ${Math.round(maxHeaderSize / 1024)} KB` };
    default:
      return { status: 400, error: 'the request is not valid HTTP/1.1' };
  }
}

/** Fastify's `clientErrorHandler`: the envelope with 400, 408 or 431, then the connection closes. */
export function clientErrorHandler(log: FastifyBaseLogger, limits: HttpServerLimits) {
  return (err: Error & { code?: string }, socket: Socket): void => {
    // A reset connection has nobody to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) return;
    const { status, error } = describe(err.code, limits);
    // Debug only: a flood of slow clients would otherwise flood the log too.
    log.debug({ err: { code: err.code, message: err.message }, status }, 'client error');
    if (socket.writable && !answered(socket)) {
      const body = JSON.stringify(envelope(status, { error }));
      socket.write(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
          'content-type: application/json; charset=utf-8\r\n' +
          `content-length: ${Buffer.byteLength(body)}\r\n` +
          `x-request-id: ${randomUUID()}\r\n` +
          'connection: close\r\n\r\n' +
          body,
      );
    }
    // As Node's own handler does: a write this small reaches the kernel at once, so tearing the
    // socket down now does not lose it, and a client that stopped reading cannot keep it open.
    socket.destroy();
  };
}
