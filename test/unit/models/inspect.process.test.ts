// Validation through the engine process (EngineHost.inspect): on the real engine the golden tiny
// models are recognised exactly and a damaged file is a report with the engine's code; a file
// that crashes the engine is a failed report (the studio lives on, the next inspection runs on a
// fresh process); without an engine the header reader answers and says so.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeEngineSpawner } from '../../../main/engine-host/channel.node.js';
import { EngineHost } from '../../../main/engine-host/host.js';
import { headerInspector } from '../../../main/services/models/inspect.headers.js';
import { engineProcessInspector } from '../../../main/services/models/inspect.process.js';
import { nativeEngineMissing } from '../../support/tiny-model.js';
import { FAKE_ENGINE } from '../engine-host/fake-engine.js';
import { useTempFolders } from '../support/temp';

const golden = path.resolve(__dirname, '../../../../shared/golden');
const temp = useTempFolders();
const ENTRY = path.resolve('dist/main/engine-host/engine-process.js');
const missing = existsSync(ENTRY) ? nativeEngineMissing() : `${ENTRY} is not built: run npm run build:main`;

let host: EngineHost | undefined;
afterEach(() => host?.stop());

describe('engine inspector in the engine process (stand-in engine)', () => {
  it('falls back to the header reader when the engine has no inspector, and says so', async () => {
    host = new EngineHost({ spawn: nodeEngineSpawner(FAKE_ENGINE) });
    const inspector = engineProcessInspector(host, headerInspector);
    const r = await inspector.inspect(path.join(golden, 'vae-tiny.weights.safetensors'), {});
    expect(r).toMatchObject({ checkedBy: 'headers', architecture: 'vae' });
  });

  it('a file that crashes the engine is a failed report; the next inspection gets a fresh process', async () => {
    host = new EngineHost({ spawn: nodeEngineSpawner(FAKE_ENGINE), env: { DIMBA_ENGINE_FAULTS: '1' } });
    const inspector = engineProcessInspector(host, headerInspector);
    const crashed = await inspector.inspect('/models/crash.safetensors', {});
    expect(crashed).toMatchObject({ ok: false, checkedBy: 'engine', architecture: 'unknown' });
    expect(crashed.problems[0]).toMatch(/^ENGINE_CRASHED: .*SIGSEGV/);
    const next = await inspector.inspect(path.join(golden, 't5-tiny.weights.safetensors'), {});
    expect(next.architecture).toBe('t5');
    expect(host.starts).toBe(2);
  });

  it('falls back when the engine process cannot start at all', async () => {
    host = new EngineHost({ spawn: nodeEngineSpawner('/nonexistent/engine-process.js') });
    const r = await engineProcessInspector(host, headerInspector).inspect(path.join(golden, 'dimba-tiny.weights.safetensors'), {});
    expect(r.checkedBy).toBe('headers');
  });
});

describe.skipIf(missing !== null)(`engine inspector in the real engine process${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('recognises the tiny Dimba, T5 and VAE exactly, and reports a truncated file with the engine code', async () => {
    host = new EngineHost({ spawn: nodeEngineSpawner(ENTRY) });
    const inspector = engineProcessInspector(host, headerInspector);
    for (const [stem, kind] of [['dimba-tiny', 'dimba'], ['t5-tiny', 't5'], ['vae-tiny', 'vae']] as const) {
      const r = await inspector.inspect(path.join(golden, `${stem}.weights.safetensors`), { config: path.join(golden, `${stem}.json`) });
      expect(r, stem).toMatchObject({ architecture: kind, checkedBy: 'engine', ok: true, missing: [], unexpected: [], wrongShape: [] });
      expect(r.matched).toBe(r.expected);
    }
    const bytes = readFileSync(path.join(golden, 'vae-tiny.weights.safetensors'));
    const cut = path.join(temp(), 'cut.safetensors');
    writeFileSync(cut, bytes.subarray(0, bytes.length / 2));
    const r = await inspector.inspect(cut, {});
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatch(/^E_BAD_FILE/);
    // Inspections never took the process down.
    expect(host.starts).toBe(1);
  });
});
