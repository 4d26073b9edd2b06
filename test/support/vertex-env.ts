import type { FakeVertex } from './fake-vertex.js';

/**
 * Settings that point the built-in `vertex` engine at a fake Vertex AI: its key file (whose
 * token_uri is the fake's), project, location and endpoints, with test-speed polling. Routes:
 * official → vertex; value → the local engine (which makes the sources extended on Vertex).
 */
export function vertexEnv(f: FakeVertex, extra: Record<string, string> = {}): Record<string, string> {
  return {
    GOOGLE_APPLICATION_CREDENTIALS: f.keyFile,
    LONGSHOT_VERTEX_PROJECT: f.project,
    LONGSHOT_VERTEX_LOCATION: f.location,
    LONGSHOT_VERTEX_BASE_URL: f.url,
    LONGSHOT_VERTEX_STORAGE_BASE_URL: f.url,
    LONGSHOT_ROUTES: 'official=vertex;value=local;auto=value,official',
    LONGSHOT_UPSTREAM_POLL_MS: '40',
    LONGSHOT_UPSTREAM_POLL_MAX_MS: '100',
    LONGSHOT_UPSTREAM_RETRY_MS: '20',
    LONGSHOT_UPSTREAM_RETRIES: '2',
    LONGSHOT_UPSTREAM_DEADLINE_SECONDS: '30',
    LONGSHOT_WORKERS: '3',
    ...extra,
  };
}
