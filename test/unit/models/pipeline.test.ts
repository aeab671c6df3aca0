// Registered models become runnable pipelines: a Dimba model shows the T5 and VAE it would use
// (siblings in the release layout first), its id resolves to an engine manifest written from
// those parts, and what cannot run is refused with a typed error. On the real engine, a job
// naming a registered Dimba model's id makes the same pixels as the hand-written manifest of the
// same parts.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../../../main/api/errors';
import type { JobRecipe } from '../../../main/api/jobs';
import { nodeEngineSpawner } from '../../../main/engine-host/channel.node';
import { EngineHost } from '../../../main/engine-host/host';
import { createServices, type Services } from '../../../main/services/index';
import { decodePngRgb } from '../../../main/services/images/png';
import { createModelsService } from '../../../main/services/models/models.service';
import { nativeEngineMissing, writeTinyModel } from '../../support/tiny-model';
import { FAKE_ENGINE } from '../engine-host/fake-engine.js';
import { useTempFolders } from '../support/temp';

const GOLDEN = path.resolve(__dirname, '../../../../shared/golden');
const g = (name: string) => path.join(GOLDEN, name);
const temp = useTempFolders();

/** ckpts/ as the reference release lays it out (tiny golden parts, the tokenizer in the T5 folder). */
function releaseLayout(root: string, { tokenizer = true } = {}): string {
  const ckpts = path.join(root, 'ckpts');
  mkdirSync(path.join(ckpts, 't5-v1_1-xxl'), { recursive: true });
  mkdirSync(path.join(ckpts, 'vae'), { recursive: true });
  copyFileSync(g('dimba-tiny.weights.safetensors'), path.join(ckpts, 'dimba-l-512.safetensors'));
  copyFileSync(g('dimba-tiny.json'), path.join(ckpts, 'dimba-l-512.json'));
  copyFileSync(g('t5-tiny.weights.safetensors'), path.join(ckpts, 't5-v1_1-xxl', 'model.safetensors'));
  copyFileSync(g('t5-tiny.json'), path.join(ckpts, 't5-v1_1-xxl', 'config.json'));
  if (tokenizer) copyFileSync(g('tiny-spiece.model'), path.join(ckpts, 't5-v1_1-xxl', 'spiece.model'));
  copyFileSync(g('vae-tiny.weights.safetensors'), path.join(ckpts, 'vae', 'diffusion_pytorch_model.safetensors'));
  copyFileSync(g('vae-tiny.json'), path.join(ckpts, 'vae', 'config.json'));
  return ckpts;
}

async function apiError(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error instanceof ApiError) return error;
  throw new Error(`expected an ApiError, got ${String(error)}`);
}

describe('pipelines from registered models', () => {
  it('pairs the release layout\'s Dimba with its T5 and VAE and writes an engine manifest for them', async () => {
    const root = temp();
    const ckpts = releaseLayout(root);
    const folder = temp();
    const models = createModelsService({ folder });
    const [dimba, t5, vae] = await models.register(root);
    const listed = (await models.list()).find((m) => m.id === dimba!.id)!;
    expect(listed.pipeline).toEqual({ textEncoder: t5!.id, vae: vae!.id, problem: null });
    expect((await models.list()).find((m) => m.id === t5!.id)!.pipeline).toBeUndefined();

    const file = await models.manifestFor(dimba!.id);
    expect(path.dirname(file)).toBe(path.join(folder, dimba!.id));
    expect(path.basename(file)).toMatch(/^pipeline-[0-9a-f]{12}\.manifest\.json$/);
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    expect(manifest).toMatchObject({
      format: 'dimba-model-manifest',
      id: dimba!.id,
      name: 'Dimba-L 512',
      // dimba-tiny's config: input_size 8 latents = 64 px.
      resolution: 64,
      dimba: { weights: path.join(ckpts, 'dimba-l-512.safetensors'), config: { hidden_size: 64, depth: 2 } },
      text_encoder: { folder: path.join(ckpts, 't5-v1_1-xxl'), tokenizer: path.join(ckpts, 't5-v1_1-xxl', 'spiece.model') },
      vae: { folder: path.join(ckpts, 'vae') },
      defaults: { width: 64, height: 64 },
    });
    // The same parts, the same file.
    expect(await models.manifestFor(dimba!.id)).toBe(file);
  });

  it('says what a Dimba model lacks, and refuses to run it, a part alone, or an unknown id', async () => {
    const root = temp();
    const ckpts = releaseLayout(root, { tokenizer: false });
    const models = createModelsService({ folder: temp() });
    const [dimba] = await models.register(path.join(ckpts, 'dimba-l-512.safetensors'));
    const alone = (await models.list())[0]!;
    expect(alone.pipeline).toMatchObject({ textEncoder: null, vae: null, problem: expect.stringMatching(/needs a T5 text encoder.*; a VAE/) });
    expect(await apiError(models.manifestFor(dimba!.id))).toMatchObject({ code: 'MODEL_INVALID', message: expect.stringMatching(/T5/) });

    const [t5] = await models.register(path.join(ckpts, 't5-v1_1-xxl'));
    await models.register(path.join(ckpts, 'vae'));
    const listed = (await models.list()).find((m) => m.id === dimba!.id)!;
    expect(listed.pipeline?.problem).toMatch(/the tokenizer: .* has no spiece.model/);
    expect(await apiError(models.manifestFor(t5!.id))).toMatchObject({ code: 'MODEL_INVALID', message: expect.stringMatching(/one part of a pipeline/) });
    expect(await apiError(models.manifestFor('no-such-model'))).toMatchObject({ code: 'NOT_FOUND' });
    // A manifest path is taken as it is (the engine checks it when it loads).
    expect(await models.manifestFor('/elsewhere/model.manifest.json')).toBe('/elsewhere/model.manifest.json');
  });

  it('prefers the sibling T5; with it gone, takes another and writes a new manifest in place of the old', async () => {
    const root = temp();
    const ckpts = releaseLayout(root);
    const other = releaseLayout(temp());
    const folder = temp();
    const models = createModelsService({ folder });
    const [dimba, t5] = await models.register(root);
    // Registered later, so newer: still not chosen over the sibling.
    const [otherT5] = await models.register(path.join(other, 't5-v1_1-xxl'));
    const first = await models.manifestFor(dimba!.id);
    expect(JSON.parse(readFileSync(first, 'utf8')).text_encoder.folder).toBe(path.join(ckpts, 't5-v1_1-xxl'));
    await models.remove(t5!.id);
    expect((await models.list()).find((m) => m.id === dimba!.id)!.pipeline?.textEncoder).toBe(otherT5!.id);
    const second = await models.manifestFor(dimba!.id);
    expect(second).not.toBe(first);
    expect(JSON.parse(readFileSync(second, 'utf8')).text_encoder.folder).toBe(path.join(other, 't5-v1_1-xxl'));
    expect(readdirSync(path.join(folder, dimba!.id)).filter((n) => n.endsWith('.manifest.json'))).toEqual([path.basename(second)]);
  });
});

let services: Services | undefined;
afterEach(() => {
  services?.jobs.stop();
  services?.engine.stop();
  services = undefined;
});

describe('jobs naming a registered model (stand-in engine)', () => {
  it('fail with the models service\'s code when the model is unknown or cannot generate', async () => {
    const spawnFake = nodeEngineSpawner(FAKE_ENGINE);
    services = createServices({ userDataFolder: temp(), mode: 'browser', version: '1', emit: () => undefined, spawnEngine: (o) => spawnFake({ env: { ...o.env, DIMBA_FAKE_STEP_MS: '1' } }) });
    const [t5] = await services.models.register(path.join(releaseLayout(temp()), 't5-v1_1-xxl'));
    const recipe = (model: string): JobRecipe => ({ prompt: 'a fox', negativePrompt: '', model, seed: '1', steps: 2 });
    const unknown = services.jobs.enqueue(recipe('no-such-model'), 1);
    const part = services.jobs.enqueue(recipe(t5!.id), 1);
    await services.jobs.idle();
    const jobs = services.jobs.list().jobs;
    expect(jobs.find((j) => j.id === unknown.id)).toMatchObject({ status: 'failed', error: { code: 'NOT_FOUND' } });
    expect(jobs.find((j) => j.id === part.id)).toMatchObject({ status: 'failed', error: { code: 'MODEL_INVALID' } });
  });
});

const ENTRY = path.resolve('dist/main/engine-host/engine-process.js');
const missing = existsSync(ENTRY) ? nativeEngineMissing() : `${ENTRY} is not built: run npm run build:main`;

describe.skipIf(missing !== null)(`a registered Dimba + T5 + VAE on the real engine${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('a job naming the Dimba model\'s id makes the pixels of the hand-written manifest of the same parts', async () => {
    // The engine's tiny model, laid out the way a user keeps parts: a checkpoint with its config
    // beside it, a T5 folder holding its tokenizer, a VAE folder.
    const written = writeTinyModel(path.join(temp(), 'tiny'));
    const reference = JSON.parse(readFileSync(written, 'utf8'));
    const parts = path.dirname(written);
    writeFileSync(path.join(parts, 'dimba.json'), JSON.stringify(reference.dimba.config));
    copyFileSync(reference.text_encoder.tokenizer, path.join(parts, 't5', 'spiece.model'));
    const userData = temp();
    services = createServices({ userDataFolder: userData, mode: 'browser', version: '1', emit: () => undefined, spawnEngine: nodeEngineSpawner(ENTRY) });
    const [dimba] = await services.models.register(path.join(parts, 'dimba.safetensors'), 'Tiny', 'dimba');
    await services.models.register(path.join(parts, 't5'), 'Tiny T5', 't5');
    await services.models.register(path.join(parts, 'vae'), 'Tiny VAE', 'vae');
    expect((await services.models.list()).find((m) => m.id === dimba!.id)!.pipeline?.problem).toBeNull();

    const job = services.jobs.enqueue({ prompt: 'a red circle', negativePrompt: '', model: dimba!.id, seed: '5', steps: 3, width: 64, height: 32 }, 1);
    await services.jobs.idle();
    const done = services.jobs.list().jobs.find((j) => j.id === job.id)!;
    expect(done, JSON.stringify(done.error)).toMatchObject({ status: 'done' });
    const image = services.gallery.get(done.imageIds[0]!);
    expect(image.recipe.model).toMatchObject({ id: dimba!.id, name: 'Tiny' });

    // The reference: the writer's own manifest of the same parts, run directly on the engine host.
    const host = new EngineHost({ spawn: nodeEngineSpawner(ENTRY) });
    try {
      await host.ensureModel(written, 'bf16');
      const direct = await host.run('ref', { prompt: 'a red circle', negativePrompt: '', seed: '5', steps: 3, width: 64, height: 32, count: 1, previewEvery: 0 });
      // The jobs service loads bf16 weights, like the reference run here.
      const fromGallery = decodePngRgb(readFileSync(services.gallery.filePath(image.uid)));
      expect([fromGallery.width, fromGallery.height]).toEqual([64, 32]);
      expect(Buffer.from(fromGallery.rgb).equals(Buffer.from(direct.images[0]!.rgb))).toBe(true);
    } finally {
      host.stop();
      rmSync(parts, { recursive: true, force: true });
    }
  });
});
