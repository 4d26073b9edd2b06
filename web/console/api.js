// The admin API client. The admin token lives in this browser's localStorage (like the
// playground's API key) and is sent only to this origin's /admin/v1, in the Authorization header.

import { requestEnvelope } from '/web/common/request.js';

const ADMIN = '/admin/v1';
const TOKEN_STORE = 'longshot.adminToken';

export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.status = status;
    this.field = field;
  }
}

export const token = {
  get() {
    try {
      return localStorage.getItem(TOKEN_STORE);
    } catch {
      return null;
    }
  },
  set(value) {
    try {
      localStorage.setItem(TOKEN_STORE, value);
    } catch {
      // Storage disabled: the token lasts for this page only.
    }
    memory = value;
  },
  clear() {
    try {
      localStorage.removeItem(TOKEN_STORE);
    } catch {
      // nothing kept
    }
    memory = null;
  },
};
let memory = token.get();

/** Told when the token is refused mid-session (rotated), so the page can ask for it again. */
let onRefused = () => {};
export const whenRefused = (fn) => {
  onRefused = fn;
};

/** `admin('GET', '/accounts')` → the envelope's `data`; an ApiError with the API's sentence otherwise. */
export async function admin(method, path, body, tokenOverride) {
  const t = tokenOverride ?? memory;
  if (!t) throw new ApiError(401, 'Enter the admin token first.');
  let reply;
  try {
    reply = await requestEnvelope(method, ADMIN + path, t, body);
  } catch {
    throw new ApiError(0, 'The server cannot be reached. Is Longshot running?');
  }
  const { res, env } = reply;
  if (reply.failed) {
    const message = env?.data?.error ?? env?.message ?? `The server answered HTTP ${res.status}.`;
    const err = new ApiError(res.status, message, env?.data?.field);
    if (res.status === 401 && tokenOverride === undefined) onRefused(err);
    throw err;
  }
  return env.data;
}

/** A query string of the values given (empty ones left out). */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const text = q.toString();
  return text ? `?${text}` : '';
}

export const enc = encodeURIComponent;
