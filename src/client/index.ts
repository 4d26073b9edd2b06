/**
 * `longshot/client`: a dependency-free TypeScript client for the APIXO video-task API
 * (`veo-3-1`, `veo-3-1-extend`), as served by Longshot or by api.apixo.ai. See docs/client.md.
 */
export { LongshotClient, DEFAULT_BASE_URL, type LongshotClientOptions, type RetryInfo } from './client.js';
export {
  LongshotError, LongshotApiError, LongshotNetworkError, TaskFailedError, WaitTimeoutError, WebhookVerificationError,
  type ApiErrorFields, type WebhookErrorReason,
} from './errors.js';
export { verifyWebhook, type VerifyWebhookOptions, type WebhookHeaders, type WebhookPayload } from './webhook.js';
export { parseRetryAfter, backoffDelay, retryDelay } from './retry.js';
export type * from './types.js';
