// The native engine as TypeScript sees it: the addon's exports with their types, loaded once.
// Engine failures arrive as NativeEngineError with the engine's code (E_BAD_FILE, ...), so
// callers branch on codes, never on message text. Only the engine process and the CLI load
// this module; the main process of the app never does (see ../engine-host/).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { appRoot } from '../runtime/paths.js';

export type EngineErrorCode =
  | 'E_INVALID_ARGUMENT'
  | 'E_BAD_FILE'
  | 'E_UNSUPPORTED_FORMAT'
  | 'E_MODEL_MISMATCH'
  | 'E_IO'
  | 'E_OUT_OF_MEMORY'
  | 'E_CANCELLED'
  | 'E_INTERNAL'
  | 'E_ADDON_MISSING';

export class NativeEngineError extends Error {
  override readonly name = 'NativeEngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export type WeightDtype = 'f32' | 'bf16' | 'f16';

export interface CompareLine {
  name: string;
  relErr: number;
  tol: number;
  pass: boolean;
}

export interface VerifyReport {
  kind: string;
  lines: CompareLine[];
  pass: boolean;
}

/** The addon's exports exactly as native/src/addon/addon.cpp defines them. */
interface DimbaAddon {
  verifyGolden(dir: string, caseName: string, options?: { weights?: WeightDtype }): Promise<VerifyReport>;
}

/** Where the build puts the addon; packaged apps keep it unpacked beside app.asar. */
export function addonPath(root = appRoot): string {
  return path.join(root.replace(/app\.asar$/, 'app.asar.unpacked'), 'build', 'addon', 'Release', 'dimba_addon.node');
}

const ENGINE_CODES = new Set<string>([
  'E_INVALID_ARGUMENT',
  'E_BAD_FILE',
  'E_UNSUPPORTED_FORMAT',
  'E_MODEL_MISMATCH',
  'E_IO',
  'E_OUT_OF_MEMORY',
  'E_CANCELLED',
  'E_INTERNAL',
]);

/** Turns whatever the addon threw into a NativeEngineError; other errors pass through. */
export function asEngineError(error: unknown): unknown {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string' && ENGINE_CODES.has(error.code)) {
    return new NativeEngineError(error.code as EngineErrorCode, error.message);
  }
  return error;
}

let loaded: DimbaAddon | undefined;

export function loadAddon(file = addonPath()): DimbaAddon {
  if (loaded) return loaded;
  if (!existsSync(file)) {
    throw new NativeEngineError('E_ADDON_MISSING', `the native engine is not built (${file}); run \`npm run build:native\``);
  }
  const require = createRequire(import.meta.url);
  loaded = require(file) as DimbaAddon;
  return loaded;
}

export async function verifyGolden(dir: string, caseName: string, weights: WeightDtype = 'f32'): Promise<VerifyReport> {
  try {
    return await loadAddon().verifyGolden(dir, caseName, { weights });
  } catch (error) {
    throw asEngineError(error);
  }
}
