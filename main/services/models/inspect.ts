// How the model manager looks inside a checkpoint. Two implementations: the engine's
// inspectCheckpoint (inspect.engine.ts: every format, exact comparison with the engine's
// expected tensor lists) and a safetensors header reader that runs anywhere
// (inspect.headers.ts: names matched by pattern; .pt files are reported, not read).
import type { Validation } from '../../api/models.js';

export interface Inspector {
  /** Never throws for a bad file: problems are part of the report. */
  inspect(target: string, options: { config?: string }): Promise<Validation>;
}

/** A report with nothing found yet, which an inspector fills in (or leaves failed with a problem). */
export function emptyValidation(path: string, checkedBy: Validation['checkedBy'], problems: string[] = []): Validation {
  return {
    path,
    architecture: 'unknown',
    checkedBy,
    ok: false,
    tensorCount: 0,
    totalBytes: 0,
    dtypes: {},
    matched: 0,
    expected: 0,
    missing: [],
    unexpected: [],
    wrongShape: [],
    problems,
    unchecked: [],
  };
}
