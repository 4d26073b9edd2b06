import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

/**
 * A local S3-compatible server for the storage suite: LONGSHOT_TEST_S3_ENDPOINT if set (e.g. a
 * MinIO), else `moto_server` (Python `moto[server]`, part of this machine image) when it is on
 * the PATH.
 */
export interface TestS3 {
  endpoint: string;
  bucket: string;
  close(): Promise<void>;
}

export const S3_TEST_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'testtesttest' };

/** Why the S3 tests cannot run here, or null when they can. */
export function s3Unavailable(): string | null {
  if (process.env.LONGSHOT_TEST_S3_ENDPOINT) return null;
  const probe = spawnSync('moto_server', ['--help'], { stdio: 'ignore' });
  return probe.error || probe.status !== 0
    ? 'no S3-compatible server: set LONGSHOT_TEST_S3_ENDPOINT, or install moto_server (pip install "moto[server]")'
    : null;
}

export async function startTestS3(bucket: string): Promise<TestS3> {
  let child: ChildProcess | null = null;
  let endpoint = process.env.LONGSHOT_TEST_S3_ENDPOINT ?? '';
  if (!endpoint) {
    const port = await freePort();
    child = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    endpoint = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await fetch(endpoint);
        break;
      } catch {
        if (Date.now() > deadline) throw new Error('moto_server did not start within 20 s');
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: S3_TEST_CREDENTIALS });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  client.destroy();
  return {
    endpoint,
    bucket,
    async close() {
      child?.kill('SIGTERM');
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

let shared: Promise<TestS3> | null = null;

/**
 * LONGSHOT_TEST_STORAGE=s3 runs the service-level tests on S3 result storage: one local server
 * per test file, one key prefix per data dir (so a restart finds its files).
 */
export async function testStorageEnv(dataDir: string): Promise<Record<string, string>> {
  if (process.env.LONGSHOT_TEST_STORAGE !== 's3') return {};
  const missing = s3Unavailable();
  if (missing) throw new Error(`LONGSHOT_TEST_STORAGE=s3: ${missing}`);
  shared ??= startTestS3(`longshot-svc-${randomBytes(4).toString('hex')}`).then((s) => {
    process.once('exit', () => void s.close());
    return s;
  });
  const s = await shared;
  return {
    LONGSHOT_S3_BUCKET: s.bucket,
    LONGSHOT_S3_ENDPOINT: s.endpoint,
    LONGSHOT_S3_FORCE_PATH_STYLE: 'true',
    LONGSHOT_S3_PREFIX: `${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}/`,
    AWS_ACCESS_KEY_ID: S3_TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3_TEST_CREDENTIALS.secretAccessKey,
  };
}
