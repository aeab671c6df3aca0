// What a store shows when a call fails: the API's own code and message, or INTERNAL for anything
// else that was thrown (a bug, a lost connection), so every view renders one shape of error.
import { ApiError, type ApiErrorShape } from '@api';

export function errorShapeOf(error: unknown): ApiErrorShape {
  if (error instanceof ApiError) return error.toShape();
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}
