/**
 * Whether a suite's outside requirement (PostgreSQL, Redis, an S3 server, Chromium, openssl) is
 * here. On a developer's machine a missing one skips its suite; under `CI=true` it fails the run
 * instead, so a green CI means every suite ran (.ci/run brings the services up first).
 */
export function available(what: string, missing: string | null): boolean {
  if (missing === null) return true;
  if (process.env.CI === 'true') throw new Error(`CI=true, but ${what} is not available: ${missing}`);
  return false;
}
