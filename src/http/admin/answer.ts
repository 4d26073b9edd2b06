import type { Outcome } from '../../admin/fields.js';
import { ApiError, type Envelope, success } from '../api-error.js';

/** The admin service's value in the envelope, or its refusal as the one error type, naming the field. */
export function answer<T, R = T>(outcome: Outcome<T>, shape?: (value: T) => R): Envelope<R> {
  if (!outcome.ok) throw new ApiError(outcome.status, { error: outcome.error, field: outcome.field });
  return success(shape ? shape(outcome.value) : (outcome.value as unknown as R));
}
