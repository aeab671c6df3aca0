// Validation by the engine (native/src/models/inspect.h through the addon): every checkpoint
// format, names and shapes compared with the engine's own expected tensor lists.
import type { Validation } from '../../api/models.js';
import type { CheckpointInspection } from '../../engine/addon.js';
import type { Inspector } from './inspect.js';

export type InspectCheckpoint = (file: string, options: { config?: string }) => Promise<CheckpointInspection>;

export function engineInspector(inspectCheckpoint: InspectCheckpoint): Inspector {
  return {
    async inspect(target, options) {
      try {
        const r = await inspectCheckpoint(target, options);
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
      } catch (error) {
        const code = typeof (error as { code?: unknown }).code === 'string' ? `${(error as { code: string }).code}: ` : '';
        return {
          path: target,
          architecture: 'unknown',
          checkedBy: 'engine',
          ok: false,
          tensorCount: 0,
          totalBytes: 0,
          dtypes: {},
          matched: 0,
          expected: 0,
          missing: [],
          unexpected: [],
          wrongShape: [],
          problems: [`${code}${error instanceof Error ? error.message : String(error)}`],
          unchecked: [],
        };
      }
    },
  };
}
