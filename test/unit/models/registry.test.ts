// Registering local models: the golden tiny Dimba, T5 and VAE in the layouts users have them
// (a checkpoint with its config beside it, diffusers-style folders, the release's ckpts/), and
// the refusals: not a model, truncated, missing path, a hand-broken manifest.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../main/api/errors';
import type { HashCache } from '../../../main/services/models/hash';
import { headerInspector } from '../../../main/services/models/inspect.headers';
import { createModelsService } from '../../../main/services/models/models.service';
import { ModelRegistry } from '../../../main/services/models/registry';
import { useTempFolders } from '../support/temp';

const GOLDEN = path.resolve(__dirname, '../../../../shared/golden');
const temp = useTempFolders();

function g(name: string): string {
  return path.join(GOLDEN, name);
}

/** ckpts/ as the reference release lays it out, built from the tiny golden models. */
function releaseLayout(root: string): string {
  const ckpts = path.join(root, 'ckpts');
  mkdirSync(path.join(ckpts, 't5-v1_1-xxl'), { recursive: true });
  mkdirSync(path.join(ckpts, 'vae'), { recursive: true });
  copyFileSync(g('dimba-tiny.weights.safetensors'), path.join(ckpts, 'dimba-l-512.safetensors'));
  copyFileSync(g('dimba-tiny.json'), path.join(ckpts, 'dimba-l-512.json'));
  copyFileSync(g('t5-tiny.weights.safetensors'), path.join(ckpts, 't5-v1_1-xxl', 'model.safetensors'));
  copyFileSync(g('t5-tiny.json'), path.join(ckpts, 't5-v1_1-xxl', 'config.json'));
  copyFileSync(g('vae-tiny.weights.safetensors'), path.join(ckpts, 'vae', 'diffusion_pytorch_model.safetensors'));
  copyFileSync(g('vae-tiny.json'), path.join(ckpts, 'vae', 'config.json'));
  return ckpts;
}

async function apiError(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected an ApiError');
}

describe('model registry', () => {
  it('registers a Dimba checkpoint with its config, then hashes it in the background', async () => {
    const src = temp();
    copyFileSync(g('dimba-tiny.weights.safetensors'), path.join(src, 'dimba-tiny.weights.safetensors'));
    copyFileSync(g('dimba-tiny.json'), path.join(src, 'dimba-tiny.json'));
    const changes: number[] = [];
    const models = createModelsService({ folder: temp(), onModelsChanged: (m) => changes.push(m.length) });
    const [model] = await models.register(path.join(src, 'dimba-tiny.weights.safetensors'));
    expect(model).toMatchObject({ kind: 'dimba', status: 'ready', source: { type: 'local' } });
    expect(model!.config).toMatchObject({ hidden_size: 64, depth: 2 });
    expect(model!.validation).toMatchObject({ architecture: 'dimba', tensorCount: 80, dtypes: { F32: 80 } });
    expect(model!.totalBytes).toBe(readFileSync(g('dimba-tiny.weights.safetensors')).length);
    await models.registry.hashInBackground(model!.id);
    const [listed] = await models.list();
    expect(listed!.files[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(changes.length).toBeGreaterThanOrEqual(1);
    // Registering the same path again returns the same model.
    expect((await models.register(path.join(src, 'dimba-tiny.weights.safetensors')))[0]!.id).toBe(model!.id);
    expect(await models.list()).toHaveLength(1);
  });

  it('a hash still running when a conversion repoints the model keeps the new file list', async () => {
    const src = temp();
    const weights = path.join(src, 'dimba-tiny.weights.safetensors');
    copyFileSync(g('dimba-tiny.weights.safetensors'), weights);
    copyFileSync(g('dimba-tiny.json'), path.join(src, 'dimba-tiny.json'));
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const hashes = { sha256: async () => (await gate, 'a'.repeat(64)) } as unknown as HashCache;
    const registry = new ModelRegistry({ folder: temp(), inspector: headerInspector, hashes });
    const [model] = await registry.register(weights); // starts hashing the original, held at the gate
    const converted = 'converted.safetensors';
    copyFileSync(weights, path.join(registry.folder, model!.id, converted));
    const bytes = readFileSync(weights).length;
    await registry.useConvertedWeights(model!.id, weights, { path: converted, bytes, sha256: null });
    release();
    await registry.hashInBackground(model!.id);
    const after = await registry.get(model!.id);
    expect(after!.files).toEqual([{ path: converted, bytes, sha256: 'a'.repeat(64) }]);
  });

  it('registers the release layout as three models: dimba, t5 and vae', async () => {
    const ckpts = releaseLayout(temp());
    const models = createModelsService({ folder: temp() });
    const got = await models.register(path.dirname(ckpts));
    expect(got.map((m) => [m.name, m.kind, m.status])).toEqual([
      ['Dimba-L 512', 'dimba', 'ready'],
      ['T5-v1.1-XXL', 't5', 'ready'],
      ['VAE', 'vae', 'ready'],
    ]);
    expect((await models.list()).map((m) => m.kind).sort()).toEqual(['dimba', 't5', 'vae']);
  });

  it('takes the kind of a PyTorch file it cannot read from the release layout or the caller', async () => {
    const root = temp();
    const ckpts = releaseLayout(root);
    const { renameSync } = await import('node:fs');
    // Headers-only checking cannot open a torch zip: it is listed as unchecked, not refused.
    renameSync(path.join(ckpts, 'dimba-l-512.safetensors'), path.join(ckpts, 'dimba-l-512.pt'));
    const models = createModelsService({ folder: temp() });
    const [dimba] = await models.register(root);
    expect(dimba).toMatchObject({ kind: 'dimba', status: 'ready', validation: { unchecked: [path.join(ckpts, 'dimba-l-512.pt')] } });
    const loose = path.join(temp(), 'model.pt');
    copyFileSync(path.join(ckpts, 'dimba-l-512.pt'), loose);
    expect((await apiError(models.register(loose))).code).toBe('MODEL_INVALID');
    expect((await models.register(loose, 'Mine', 'dimba'))[0]).toMatchObject({ kind: 'dimba', name: 'Mine' });
  });

  it('validates without registering; reports a truncated file', async () => {
    const src = temp();
    const bytes = readFileSync(g('vae-tiny.weights.safetensors'));
    writeFileSync(path.join(src, 'vae.safetensors'), bytes.subarray(0, bytes.length - 1000));
    const models = createModelsService({ folder: temp() });
    const report = await models.validate(path.join(src, 'vae.safetensors'));
    expect(report.ok).toBe(false);
    expect(report.problems.join(' ')).toMatch(/outside the file/);
    expect(await models.list()).toEqual([]);
  });

  it('refuses what is not a model with MODEL_INVALID, and a missing path with NOT_FOUND', async () => {
    const src = temp();
    writeFileSync(path.join(src, 'notes.safetensors'), 'hello, not tensors');
    const models = createModelsService({ folder: temp() });
    expect((await apiError(models.register(path.join(src, 'notes.safetensors')))).code).toBe('MODEL_INVALID');
    expect((await apiError(models.register(path.join(src, 'nope.pt')))).code).toBe('NOT_FOUND');
    expect((await apiError(models.register(src))).code).toBe('MODEL_INVALID');
    expect(await models.list()).toEqual([]);
  });

  it('marks a model whose file disappeared as missing, and removes only its manifest', async () => {
    const ckpts = releaseLayout(temp());
    const folder = temp();
    const models = createModelsService({ folder });
    const [vae] = await models.register(path.join(ckpts, 'vae'));
    rmSync(path.join(ckpts, 'vae', 'diffusion_pytorch_model.safetensors'));
    expect((await models.list())[0]!.status).toBe('missing');
    expect(await models.remove(vae!.id)).toBe(true);
    expect(await models.list()).toEqual([]);
    expect(readFileSync(path.join(ckpts, 'vae', 'config.json')).length).toBeGreaterThan(0);
    expect(await models.remove('../etc')).toBe(false);
  });

  it('ignores a broken manifest instead of failing the list', async () => {
    const folder = temp();
    mkdirSync(path.join(folder, 'broken'));
    writeFileSync(path.join(folder, 'broken', 'model.json'), '{"id": "broken", "kind": 42');
    const models = createModelsService({ folder, log: () => {} });
    expect(await models.list()).toEqual([]);
  });
});
