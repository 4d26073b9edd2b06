// The one way the playground and the console call this server: JSON with a bearer token, to this
// origin only, never cached, no cookies, no referrer; the API's envelope read back. Each page
// words its own errors (an API key there, the admin token here), so this only reports.

/**
 * `method` `url` with `token` and, when given, `body` as JSON. Resolves to `{ res, env, failed }`:
 * `env` the parsed body or null, `failed` unless it is a success envelope. Rejects only when the
 * server cannot be reached.
 */
export async function requestEnvelope(method, url, token, body) {
  const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
  });
  let env = null;
  try {
    env = await res.json();
  } catch {
    // not an envelope
  }
  const failed = !res.ok || !env || typeof env !== 'object' || env.code >= 400;
  return { res, env, failed };
}
