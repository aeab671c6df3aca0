// Typed failures of a conversion. Hostile or damaged input is refused with BAD_FILE or
// UNSUPPORTED_FORMAT naming what was wrong; nothing is ever executed from a pickle.
export type ConvertErrorCode =
  /** Malformed, truncated, or a size / offset that does not fit the file. */
  | 'E_BAD_FILE'
  /** Well-formed but outside what torch.save writes (a foreign pickle global, a compressed entry). */
  | 'E_UNSUPPORTED_FORMAT'
  /** The destination exists already; nothing was written. */
  | 'E_EXISTS'
  | 'E_CANCELLED'
  /** Reading or writing a file failed (no space, no permission). */
  | 'E_IO';

export class ConvertError extends Error {
  override readonly name = 'ConvertError';
  constructor(
    readonly code: ConvertErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const badFile = (what: string, why: string): ConvertError => new ConvertError('E_BAD_FILE', `${what}: ${why}`);
