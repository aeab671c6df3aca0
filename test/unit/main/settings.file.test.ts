import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, type Settings } from '../../../main/api/index.js';
import { createFileSettings, SETTINGS_FILE_NAME } from '../../../main/services/settings/settings.file.js';
import { useTempFolders } from '../support/temp.js';

const tempFolder = useTempFolders();

function stored(folder: string): unknown {
  return JSON.parse(readFileSync(path.join(folder, SETTINGS_FILE_NAME), 'utf8'));
}

describe('file settings: a fresh install', () => {
  it('starts from the defaults without writing anything', async () => {
    const folder = tempFolder();
    const settings = createFileSettings({ folder });
    expect(await settings.get()).toEqual(DEFAULT_SETTINGS);
    expect(existsSync(path.join(folder, SETTINGS_FILE_NAME))).toBe(false);
  });

  it('creates the user-data folder on the first save', async () => {
    const folder = path.join(tempFolder(), 'not', 'yet', 'there');
    await createFileSettings({ folder }).update({ theme: 'dark' });
    expect(stored(folder)).toMatchObject({ theme: 'dark' });
  });
});

describe('file settings: persistence', () => {
  it('keeps an update across a restart (a new service on the same folder)', async () => {
    const folder = tempFolder();
    const first = createFileSettings({ folder });
    const updated = await first.update({ theme: 'light', defaultSteps: 42 });
    expect(updated).toEqual({ ...DEFAULT_SETTINGS, theme: 'light', defaultSteps: 42 });
    expect(await createFileSettings({ folder }).get()).toEqual(updated);
  });

  it('changes only the keys a patch names', async () => {
    const folder = tempFolder();
    const settings = createFileSettings({ folder });
    await settings.update({ backend: 'cpu' });
    const after = await settings.update({ defaultGuidance: 7 });
    expect(after.backend).toBe('cpu');
    expect(after.defaultGuidance).toBe(7);
  });

  it('applies two quick updates both, in order', async () => {
    const folder = tempFolder();
    const settings = createFileSettings({ folder });
    await Promise.all([settings.update({ defaultSteps: 10 }), settings.update({ theme: 'dark' }), settings.update({ defaultSteps: 11 })]);
    expect(stored(folder)).toMatchObject({ defaultSteps: 11, theme: 'dark' });
  });

  it('leaves no temporary files behind', async () => {
    const folder = tempFolder();
    const settings = createFileSettings({ folder });
    for (let i = 1; i <= 5; i += 1) await settings.update({ defaultSteps: i });
    expect(readdirSync(folder)).toEqual([SETTINGS_FILE_NAME]);
  });

  it('reset goes back to the defaults, on disk too', async () => {
    const folder = tempFolder();
    const settings = createFileSettings({ folder });
    await settings.update({ theme: 'dark' });
    expect(await settings.reset()).toEqual(DEFAULT_SETTINGS);
    expect(stored(folder)).toEqual(DEFAULT_SETTINGS);
  });

  it('refuses to store settings that break the schema', async () => {
    const folder = tempFolder();
    const settings = createFileSettings({ folder });
    await expect(settings.update({ defaultSteps: 0 })).rejects.toThrow();
    expect(existsSync(path.join(folder, SETTINGS_FILE_NAME))).toBe(false);
  });

  it('tells its listener about every change', async () => {
    const seen: Settings[] = [];
    const settings = createFileSettings({ folder: tempFolder(), onChange: (s) => seen.push(s) });
    await settings.update({ theme: 'dark' });
    await settings.reset();
    expect(seen.map((s) => s.theme)).toEqual(['dark', 'system']);
  });
});

describe('file settings: a damaged file', () => {
  it('keeps a file that is not JSON aside and uses the defaults', async () => {
    const folder = tempFolder();
    writeFileSync(path.join(folder, SETTINGS_FILE_NAME), '{"theme": "dark",');
    const logs: string[] = [];
    const settings = createFileSettings({ folder, log: (m) => logs.push(m) });
    expect(await settings.get()).toEqual(DEFAULT_SETTINGS);
    const aside = readdirSync(folder).filter((f) => f.startsWith(`${SETTINGS_FILE_NAME}.corrupt-`));
    expect(aside).toHaveLength(1);
    expect(readFileSync(path.join(folder, aside[0] ?? ''), 'utf8')).toBe('{"theme": "dark",');
    expect(logs.join('\n')).toMatch(/not valid JSON/);
    // And the studio can save again afterwards.
    await settings.update({ theme: 'light' });
    expect(stored(folder)).toMatchObject({ theme: 'light' });
  });

  it('keeps a file holding something other than an object aside', async () => {
    const folder = tempFolder();
    writeFileSync(path.join(folder, SETTINGS_FILE_NAME), '[1, 2, 3]');
    expect(await createFileSettings({ folder }).get()).toEqual(DEFAULT_SETTINGS);
    expect(readdirSync(folder).some((f) => f.includes('.corrupt-'))).toBe(true);
  });

  it('keeps the valid keys, defaults the invalid ones and drops unknown ones', async () => {
    const folder = tempFolder();
    writeFileSync(
      path.join(folder, SETTINGS_FILE_NAME),
      JSON.stringify({ theme: 'dark', defaultSteps: 'many', backend: 'quantum', fromTheFuture: true }),
    );
    const settings = await createFileSettings({ folder }).get();
    expect(settings).toEqual({ ...DEFAULT_SETTINGS, theme: 'dark' });
    expect(settings).not.toHaveProperty('fromTheFuture');
  });
});
