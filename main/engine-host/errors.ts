// Typed failures of the engine host. A job's failure carries one of these codes, so the queue
// decides (retry or not) and the UI words it without parsing messages.
export type EngineHostErrorCode =
  /** The engine process died (abort, segfault, out-of-memory kill) while doing this. */
  | 'ENGINE_CRASHED'
  /** The engine process could not start or never said it was ready. */
  | 'ENGINE_UNAVAILABLE'
  /** The engine sent something that is not part of the protocol: treated like a crash. */
  | 'ENGINE_PROTOCOL'
  /** The model would not fit the memory budget. */
  | 'MEMORY_BUDGET'
  /** An engine error code from the addon (E_BAD_FILE, E_CANCELLED, ...). */
  | `E_${string}`;

export class EngineHostError extends Error {
  override readonly name = 'EngineHostError';
  constructor(
    readonly code: EngineHostErrorCode,
    message: string,
  ) {
    super(message);
  }
}
