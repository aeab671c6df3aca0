// End to end: in browser mode, a prompt typed into the Generate view becomes a job that runs on
// the real engine process (tiny random model) and lands in the gallery, with progress on the
// way. Skipped, with the reason in its title, unless the native engine is built (npm test builds
// it first).
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeEngineMissing, writeTinyModel } from '../support/tiny-model';
import { launchChromium, startStudio, type RunningStudio } from './support/studio';

const missing = nativeEngineMissing();

describe.skipIf(missing !== null)(`Generate view end to end${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let studio: RunningStudio;
  let browser: Browser;
  let modelDir: string;
  let manifest: string;

  beforeAll(async () => {
    modelDir = mkdtempSync(path.join(os.tmpdir(), 'dimba-e2e-model-'));
    manifest = writeTinyModel(modelDir);
    studio = await startStudio();
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await studio?.stop();
    if (modelDir) rmSync(modelDir, { recursive: true, force: true });
  });

  it('a prompt becomes an image in the gallery', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    await page.goto(studio.url);
    await page.getByTestId('nav-generate').click();
    await page.getByTestId('gen-prompt').fill('a red fox in the snow');
    await page.getByTestId('gen-model').fill(manifest);
    await page.getByTestId('gen-steps').fill('4');
    await page.getByTestId('gen-submit').click();
    const done = page.getByTestId('job-done');
    await done.waitFor({ timeout: 30_000 });
    expect(await done.textContent()).toMatch(/a red fox in the snow.*1 image\(s\) in the gallery/);
    expect(problems).toEqual([]);
    await page.close();
  });
});
