// Validation by the engine (native/src/models/inspect.h): every checkpoint format, names and
// shapes compared with the engine's own expected tensor lists. `engineInspector` takes the
// function that runs the inspection: the engine process's (inspect.process.ts, the studio) or
// the addon in this process (tools and tests).
import type { Validation } from '../../api/models.js';
import type { CheckpointInspection } from '../../engine/addon.js';
import { emptyValidation, type Inspector } from './inspect.js';

export type InspectCheckpoint = (file: string, options: { config?: string }) => Promise<CheckpointInspection>;

export function validationFromInspection(target: string, r: CheckpointInspection): Validation {
  const dtypes: Record<string, number> = {};
  for (const t of r.tensors) dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
  return {
    path: target,
    architecture: r.kind,
    checkedBy: 'engine',
    ok: r.ok,
    tensorCount: r.tensors.length,
    totalBytes: r.totalBytes,
    dtypes,
    matched: r.matched,
    expected: r.expected,
    missing: r.missing,
    unexpected: r.unexpected,
    wrongShape: r.wrongShape,
    problems: [],
    unchecked: [],
  };
}

/** A report for a file the engine refused: the problem carries the engine's code first. */
export function failedValidation(target: string, error: unknown): Validation {
  const code = typeof (error as { code?: unknown }).code === 'string' ? `${(error as { code: string }).code}: ` : '';
  return emptyValidation(target, 'engine', [`${code}${error instanceof Error ? error.message : String(error)}`]);
}

export function engineInspector(inspectCheckpoint: InspectCheckpoint): Inspector {
  return {
    async inspect(target, options) {
      try {
        return validationFromInspection(target, await inspectCheckpoint(target, options));
      } catch (error) {
        return failedValidation(target, error);
      }
    },
  };
}
