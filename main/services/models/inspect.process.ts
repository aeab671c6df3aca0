// Validation by the engine, run in the engine process (EngineHost.inspect): the studio never
// parses a checkpoint with native code in its own process, so a hostile file can crash only the
// engine process, which the host restarts. Where the engine cannot run at all (the addon is not
// built, the process does not start), the safetensors header reader answers instead, and its
// report says so (`checkedBy: 'headers'`).
import { EngineHostError } from '../../engine-host/errors.js';
import type { EngineHost } from '../../engine-host/host.js';
import type { Inspector } from './inspect.js';
import { failedValidation, validationFromInspection } from './inspect.engine.js';

/** Codes that mean "no engine here", not "a bad file". */
const NO_ENGINE = new Set(['ENGINE_UNAVAILABLE', 'E_ADDON_MISSING']);

export function engineProcessInspector(host: Pick<EngineHost, 'inspect'>, fallback: Inspector): Inspector {
  return {
    async inspect(target, options) {
      try {
        return validationFromInspection(target, await host.inspect(target, options));
      } catch (error) {
        if (error instanceof EngineHostError && NO_ENGINE.has(error.code)) return fallback.inspect(target, options);
        // ENGINE_CRASHED here means reading this file crashed the engine: that is the report.
        return failedValidation(target, error);
      }
    },
  };
}
