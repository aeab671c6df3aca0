// End to end in the Electron shell. Runs where the Electron runtime is installed; elsewhere it is
// reported as skipped, with the reason in its name.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { _electron as electron, type ElectronApplication, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { electronRuntime } from './support/electron';
import { repoRoot } from './support/studio';

const runtime = electronRuntime();
if (runtime.skip) console.log(`[electron e2e] skipped: ${runtime.skip}`);

describe.skipIf(runtime.path === null)(
  `Electron shell${runtime.skip ? ` (skipped: ${runtime.skip})` : ''}`,
  () => {
    let app: ElectronApplication;
    let page: Page;
    let userData: string;

    beforeAll(async () => {
      userData = mkdtempSync(path.join(os.tmpdir(), 'dimba-electron-'));
      app = await electron.launch({
        executablePath: runtime.path ?? '',
        args: [repoRoot],
        env: { ...process.env, DIMBA_USER_DATA: userData } as Record<string, string>,
      });
      page = await app.firstWindow();
      await page.getByTestId('app-mode').waitFor();
    });

    afterAll(async () => {
      await app?.close();
      rmSync(userData, { recursive: true, force: true });
    });

    it('exposes exactly window.studio and nothing of node', async () => {
      const seen = await page.evaluate(() => ({
        studio: Object.keys(window.studio ?? {}).sort(),
        require: typeof (globalThis as { require?: unknown }).require,
        process: typeof (globalThis as { process?: unknown }).process,
      }));
      expect(seen).toEqual({ studio: ['call', 'kind', 'on'], require: 'undefined', process: 'undefined' });
    });

    it('runs with the app origin, a strict CSP and no new windows', async () => {
      expect(page.url()).toBe('studio://app/index.html');
      expect(await page.evaluate(() => window.open('https://example.com'))).toBeNull();
      expect(app.windows()).toHaveLength(1);
    });

    it('navigates every view and keeps a setting across a reload', async () => {
      for (const view of ['generate', 'queue', 'gallery', 'tune', 'models', 'settings']) {
        await page.getByTestId(`nav-${view}`).click();
        await page.locator(`[data-testid="view"][data-view="${view}"]`).waitFor();
      }
      // The theme is saved as soon as it is picked.
      await page.getByTestId('setting-theme').selectOption('light');
      await page.getByTestId('settings-saved').waitFor();
      await page.reload();
      await page.getByTestId('settings-form').waitFor();
      expect(await page.getByTestId('setting-theme').inputValue()).toBe('light');
    });

    it('answers a malformed call through the preload with a typed error', async () => {
      const reply = await page.evaluate(() =>
        (window.studio as unknown as { call(m: string, p: unknown): Promise<unknown> }).call('settings.update', { theme: 7 }),
      );
      expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_PARAMS' } });
    });
  },
);
