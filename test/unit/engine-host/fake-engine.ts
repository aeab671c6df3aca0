// Starts EngineHosts on the fake engine process (fake-engine.mjs) for tests.
import { fileURLToPath } from 'node:url';
import { nodeEngineSpawner } from '../../../main/engine-host/channel.node.js';
import { EngineHost, type EngineHostOptions } from '../../../main/engine-host/host.js';
import type { EngineRecipe } from '../../../main/engine-host/protocol.js';

export const FAKE_ENGINE = fileURLToPath(new URL('./fake-engine.mjs', import.meta.url));

export function fakeHost(options: Partial<EngineHostOptions> & { stepMs?: number } = {}): EngineHost {
  const { stepMs = 5, ...rest } = options;
  return new EngineHost({
    spawn: nodeEngineSpawner(FAKE_ENGINE),
    env: { DIMBA_ENGINE_FAULTS: '1', DIMBA_FAKE_STEP_MS: String(stepMs) },
    ...rest,
  });
}

export function recipe(over: Partial<EngineRecipe> = {}): EngineRecipe {
  return { prompt: 'a fox', seed: '1', steps: 4, count: 1, previewEvery: 0, ...over };
}
