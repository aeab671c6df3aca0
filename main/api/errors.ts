// The error codes that cross the API boundary. A caller switches on `code`; `message` is for people.
// This file imports nothing platform-specific: main, preload, the browser transport and the
// renderer all use it.

export const ERROR_CODES = [
  /** The message was not a well-formed request at all (not JSON, no id, no method name). */
  'BAD_REQUEST',
  /** The method name is not part of the API. */
  'UNKNOWN_METHOD',
  /** The payload did not match the method's schema. */
  'INVALID_PARAMS',
  /** The caller is not allowed to call (wrong IPC sender, missing token). */
  'FORBIDDEN',
  /** The feature is part of the API but not built yet. */
  'NOT_IMPLEMENTED',
  /** A bug or an unexpected failure on the main side; details are in the main log. */
  'INTERNAL',
  /** The transport to the main side is gone (window reloading, server stopped). */
  'DISCONNECTED',
  /** The thing named (a job, an image) does not exist. */
  'NOT_FOUND',
  /** The request does not fit the thing's state (cancelling a finished job, moving a running one). */
  'CONFLICT',
  /** The files are not a model the engine knows (unknown tensors, unreadable header). */
  'MODEL_INVALID',
  /** A tuning dataset that cannot train (too few images, unreadable or too small ones); checked before any compute. */
  'DATASET_INVALID',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The plain shape an error has on the wire. */
export interface ApiErrorShape {
  code: ErrorCode;
  message: string;
}

/** An error with a code, thrown by services and re-created by the renderer's client. */
export class ApiError extends Error implements ApiErrorShape {
  override readonly name = 'ApiError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }

  toShape(): ApiErrorShape {
    return { code: this.code, message: this.message };
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

export function isApiErrorShape(value: unknown): value is ApiErrorShape {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return isErrorCode(v.code) && typeof v.message === 'string';
}
