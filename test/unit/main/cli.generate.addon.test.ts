// `dimba generate` end to end through the engine process (dist/main/engine-host/engine-process.js)
// and the native addon on a tiny random model: two runs of one recipe write byte-identical PNGs
// whose chunks carry the recipe, and image k of a count is the count-1 image of seed + k. Needs
// the main build and the addon (npm test builds both first); without them it skips with the
// reason in the test's title.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeGenerateCommand } from '../../../main/cli/commands/generate.js';
import { nodeEngineSpawner } from '../../../main/engine-host/channel.node.js';
import { runCli } from '../../../main/cli/registry.js';
import { decodePngRgb, readPngChunks, readPngText } from '../../../main/services/images/png.js';
import { recipeFromText } from '../../../main/services/images/recipe-chunks.js';
import { nativeEngineMissing, writeTinyModel } from '../../support/tiny-model.js';

const ENTRY = path.resolve('dist/main/engine-host/engine-process.js');
const missing = existsSync(ENTRY) ? nativeEngineMissing() : `${ENTRY} is not built: run npm run build:main`;
const generateCommand = makeGenerateCommand(() => nodeEngineSpawner(ENTRY));
const outRoot = mkdtempSync(path.join(os.tmpdir(), 'dimba-generate-'));
const manifest = missing ? '' : writeTinyModel(path.join(outRoot, 'model'));

afterAll(() => rmSync(outRoot, { recursive: true, force: true }));

async function generate(args: string[]): Promise<string[]> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['generate', ...args], [generateCommand], { out: (t) => out.push(t), err: (t) => err.push(t) });
  expect(code, err.join('\n')).toBe(0);
  return out;
}

describe.skipIf(missing !== null)(`dimba generate with the native engine${missing ? ` (skipped: ${missing})` : ''}`, () => {
  const base = ['a red circle on a blue square', '--model', manifest, '--steps', '3', '--weights', 'f32'];

  it('writes the same PNG bytes for the same recipe, with the recipe embedded after IHDR', async () => {
    const [a] = await generate([...base, '--seed', '7', '--negative', 'blurry', '--out', path.join(outRoot, 'a')]);
    const [b] = await generate([...base, '--seed', '7', '--negative', 'blurry', '--out', path.join(outRoot, 'b')]);
    const bytesA = readFileSync(a!);
    expect(bytesA.equals(readFileSync(b!))).toBe(true);
    expect(readPngChunks(bytesA).map((c) => c.type).slice(0, 3)).toEqual(['IHDR', 'tEXt', 'iTXt']);
    const texts = readPngText(bytesA);
    expect(texts.get('parameters')).toMatch(/^a red circle on a blue square\nNegative prompt: blurry\nSteps: 3, Sampler: DPM\+\+ 2M, CFG scale: 4.5, Seed: 7, /);
    const recipe = recipeFromText(texts);
    expect(recipe).toMatchObject({ prompt: 'a red circle on a blue square', negativePrompt: 'blurry', seed: 7, steps: 3 });
    expect(recipe?.model.manifestHash).toMatch(/^fnv1a64:/);
  });

  it('gives image k of a count the pixels of a single run with seed + k', async () => {
    const many = await generate([...base, '--seed', '20', '--count', '2', '--out', path.join(outRoot, 'many')]);
    const one = await generate([...base, '--seed', '21', '--out', path.join(outRoot, 'one')]);
    expect(many).toHaveLength(2);
    const second = decodePngRgb(readFileSync(many[1]!));
    const single = decodePngRgb(readFileSync(one[0]!));
    expect(Buffer.from(second.rgb).equals(Buffer.from(single.rgb))).toBe(true);
    expect(recipeFromText(readPngText(readFileSync(many[1]!)))?.seed).toBe(21);
  });
});
