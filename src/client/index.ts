/**
 * `longshot/client`: a dependency-free TypeScript client for the APIXO video-task API
 * (`veo-3-1`, `veo-3-1-extend`), as served by Longshot or by api.apixo.ai. See docs/client.md.
 */
export { DEFAULT_BASE_URL, LongshotClient, type LongshotClientOptions, type RetryInfo } from './client.js';
export {
  type ApiErrorFields,
  LongshotApiError,
  LongshotError,
  LongshotNetworkError,
  TaskFailedError,
  WaitTimeoutError,
  type WebhookErrorReason,
  WebhookVerificationError,
} from './errors.js';
export { backoffDelay, parseRetryAfter, retryDelay } from './retry.js';
export type * from './types.js';
export { type VerifyWebhookOptions, verifyWebhook, type WebhookHeaders, type WebhookPayload } from './webhook.js';
