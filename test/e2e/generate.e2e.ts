// End to end: in browser mode, a prompt typed into the Generate view becomes a job that runs on
// the real engine process (tiny random model) and lands in the gallery, with progress on the
// way. Skipped unless the engine is built: the addon, and a tiny model (DIMBA_TINY_MANIFEST, or
// build/native/test_pipeline to write one).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, repoRoot, startStudio, type RunningStudio } from './support/studio';

const WRITER = path.join(repoRoot, 'build', 'native', 'test_pipeline');
const ADDON = path.join(repoRoot, 'build', 'addon', 'Release', 'dimba_addon.node');
const ready = existsSync(ADDON) && (!!process.env.DIMBA_TINY_MANIFEST || existsSync(WRITER));

describe.runIf(ready)('Generate view end to end', () => {
  let studio: RunningStudio;
  let browser: Browser;
  let modelDir: string;
  let manifest: string;

  beforeAll(async () => {
    modelDir = mkdtempSync(path.join(os.tmpdir(), 'dimba-e2e-model-'));
    manifest =
      process.env.DIMBA_TINY_MANIFEST ??
      execFileSync(WRITER, ['--write-tiny-model', modelDir], { encoding: 'utf8' }).trim().split('\n').at(-1)!;
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
