// The Tune view end to end in Chromium (browser mode) on the real engine and the built-in
// model: a gallery collection of green stars on black (imported PNG files), a dataset too small
// for a run refused with its reason before any compute, the collection loaded with a trigger
// phrase, a short LoRA run started from the view, its loss curve and checkpoints followed live
// with samples beside the base model's, a checkpoint made a variant, and an image generated in
// Generate with that variant at a strength, whose recipe records the variant's id, hash and
// strength. Screenshots of the run view go to test-results/screenshots/ (printed).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePng } from '../../main/services/images/png.js';
import { nativeEngineMissing } from '../support/tiny-model';
import { connectApi, type StudioApi } from './support/api';
import { launchChromium, repoRoot, startStudio, type RunningStudio } from './support/studio';

const missing = nativeEngineMissing();
const SHOTS = path.join(repoRoot, 'test-results', 'screenshots');

/** A green five-pointed star on black, `size` px, centred at (cx, cy) with radius r. */
function star(size: number, cx: number, cy: number, r: number): Buffer {
  const rgb = new Uint8Array(size * size * 3);
  const pts = Array.from({ length: 10 }, (_, k) => {
    const a = -Math.PI / 2 + (k * Math.PI) / 5;
    const rr = k % 2 === 0 ? r : r * 0.45;
    return [cx + rr * Math.cos(a), cy + rr * Math.sin(a)] as const;
  });
  const inside = (x: number, y: number) => {
    let c = false;
    for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
      const [xi, yi] = pts[i]!;
      const [xj, yj] = pts[j]!;
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) c = !c;
    }
    return c;
  };
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if (inside(x + 0.5, y + 0.5)) rgb[(y * size + x) * 3 + 1] = 200;
  return encodePng({ width: size, height: size, rgb });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(missing !== null)(`Tune view end to end${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let studio: RunningStudio;
  let browser: Browser;
  let api: StudioApi;
  let page: Page;
  let scratch: string;
  let starsId: number;
  let tinyId: number;
  const problems: string[] = [];

  beforeAll(async () => {
    scratch = mkdtempSync(path.join(os.tmpdir(), 'dimba-e2e-tune-'));
    mkdirSync(SHOTS, { recursive: true });
    studio = await startStudio();
    api = await connectApi(studio);
    const stars = await api.call('gallery.createCollection', { name: 'Green stars' });
    const tiny = await api.call('gallery.createCollection', { name: 'Too small' });
    starsId = stars.id;
    tinyId = tiny.id;
    const uids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const file = path.join(scratch, `star-${i}.png`);
      writeFileSync(file, star(40, 14 + (i % 3) * 6, 14 + Math.floor(i / 3) * 6, 7 + (i % 2) * 4));
      uids.push((await api.call('gallery.importFile', { path: file })).image.uid);
    }
    await api.call('gallery.addToCollection', { id: stars.id, uids });
    const small = path.join(scratch, 'small.png');
    writeFileSync(small, star(16, 8, 8, 5));
    await api.call('gallery.addToCollection', { id: tiny.id, uids: [(await api.call('gallery.importFile', { path: small })).image.uid] });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(studio.url);
    await page.getByTestId('nav-tune').click();
    await page.getByTestId('tune-empty').waitFor();
    console.log(`tune e2e screenshots: ${SHOTS}`);
  }, 120_000);

  afterAll(async () => {
    api?.close();
    await browser?.close();
    await studio?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('names what is wrong with a dataset before any compute', async () => {
    await page.getByTestId('tune-collection').selectOption(String(tinyId));
    await page.getByTestId('tune-check').click();
    const list = page.getByTestId('tune-problems');
    await list.waitFor();
    expect(await list.locator('[data-code="IMAGE_TOO_SMALL"]').textContent()).toMatch(/16x16, smaller than the model's 32x32/);
    expect(await list.locator('[data-code="TOO_FEW_IMAGES"]').textContent()).toMatch(/at least 4/);
    expect(await page.getByTestId('tune-start').isDisabled()).toBe(true);
  });

  it('runs a short LoRA tuning from a collection and shows its curve and checkpoints', async () => {
    await page.getByTestId('tune-collection').selectOption(String(starsId));
    await page.getByTestId('tune-check').click();
    await expect.poll(() => page.getByTestId('tune-dataset-summary').textContent()).toMatch(/8 images; .* 32x32/);
    await page.getByTestId('tune-trigger').fill('greenstar style');
    await page.getByTestId('tune-bulk-caption').fill('a picture');
    await page.getByTestId('tune-bulk-apply').click();
    await page.getByTestId('tune-name').fill('Green stars');
    await page.getByTestId('tune-steps').fill('24');
    await page.getByTestId('tune-save-every').fill('12');
    await page.getByTestId('tune-lr').fill('0.002');
    await page.getByTestId('tune-preview-prompts').fill('a shape\nsomething');
    await page.getByTestId('tune-start').click();
    await page.getByTestId('tune-run').waitFor();
    // The curve grows while it trains.
    await page.getByTestId('tune-loss-smooth').waitFor({ timeout: 120_000 });
    await page.getByTestId('tune-run').screenshot({ path: path.join(SHOTS, 'tune-running.png') });
    await expect.poll(() => page.getByTestId('tune-status').textContent(), { timeout: 240_000 }).toBe('done');
    await page.getByTestId('tune-checkpoint-24').waitFor();
    await page.getByTestId('tune-checkpoint-12').waitFor();
    expect(await page.getByTestId('tune-base-samples').locator('img').count()).toBe(2);
    expect(await page.getByTestId('tune-checkpoint-24').locator('img').count()).toBe(2);
    expect(await page.getByTestId('tune-step').textContent()).toBe('24 / 24');
    const run = (await api.call('tuning.list', {})).runs[0]!;
    expect(run.losses).toHaveLength(24);
    expect(run.checkpoints.map((c) => c.step)).toEqual([12, 24]);
    expect(run.checkpoints.every((c) => c.validationLoss !== null && Number.isFinite(c.validationLoss))).toBe(true);
    expect(await page.getByTestId('tune-base-samples').textContent()).toMatch(/validation 0\.\d+/);
    await page.getByTestId('tune-run').screenshot({ path: path.join(SHOTS, 'tune-run-view.png') });
  }, 300_000);

  it('makes a checkpoint a variant and generates with it at a strength, recorded in the recipe', async () => {
    await page.getByTestId('tune-use-24').click();
    await expect.poll(() => page.getByTestId('tune-used').textContent()).toMatch(/is now a variant of dimba-builtin-32/);
    const variant = (await api.call('tuning.variants', {})).variants[0]!;
    await page.getByTestId('nav-generate').click();
    await page.getByTestId('gen-prompt').fill('a shape');
    await expect.poll(() => page.getByTestId('gen-model-select').inputValue()).toBe('dimba-builtin-32');
    await page.getByTestId('gen-variant-select').selectOption(variant.id);
    await page.getByTestId('gen-variant-strength').fill('0.8');
    await page.getByTestId('gen-submit').click();
    const job = await until('the job with the variant', async () => {
      const j = (await api.call('jobs.list', {})).jobs.find((x) => x.recipe.prompt === 'a shape');
      if (j?.status === 'failed') throw new Error(`the job failed: ${j.error?.code}: ${j.error?.message}`);
      return j?.status === 'done' ? j : undefined;
    });
    expect(job.recipe.adapter).toEqual({ id: variant.id, strength: 0.8 });
    const image = await api.call('gallery.get', { uid: job.imageIds[0]! });
    expect(image.recipe.adapters).toEqual([{ id: variant.id, hash: variant.hash, weight: 0.8 }]);
    expect(variant.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(problems).toEqual([]);
  }, 120_000);
});
