/** The messages of docs/contract.md §1, one per HTTP status the API answers with. */
export const STATUS_MESSAGES: Record<number, string> = {
  200: 'success',
  400: 'Invalid request',
  401: 'Invalid or missing API key',
  402: 'Insufficient balance',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  408: 'Request timeout',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload too large',
  415: 'Unsupported media type',
  416: 'Range not satisfiable',
  422: 'Unprocessable request',
  429: 'Rate limit exceeded',
  431: 'Request header fields too large',
  500: 'Internal error',
  502: 'Upstream error',
  503: 'Service unavailable',
  504: 'Upstream timeout',
};

export interface ErrorDetail {
  /** A sentence that names the offending field or the reason. */
  error: string;
  field?: string;
  failCode?: string;
  retryAfter?: number;
  [extra: string]: unknown;
}

/** The one error type of the HTTP edge; rendered into the envelope by the app's error handler. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: ErrorDetail | null,
  ) {
    super(detail?.error ?? STATUS_MESSAGES[status] ?? 'Error');
  }
}

export interface Envelope<T = unknown> {
  code: number;
  message: string;
  data: T;
}

export function envelope<T>(status: number, data: T): Envelope<T> {
  return { code: status, message: STATUS_MESSAGES[status] ?? 'Error', data };
}

export function success<T>(data: T): Envelope<T> {
  return { code: 200, message: 'success', data };
}
