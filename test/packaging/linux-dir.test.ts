// Packaging: electron-builder's `--linux dir` with our electron-builder.yml, against a stand-in
// Electron distribution (the real one cannot be downloaded here). Checks what a user's install
// would hold: the built main and renderer in app.asar, no sources, the fuses flipped.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { extractFile, listPackage } from '@electron/asar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../e2e/support/studio';

// Electron marks its fuse wire with this sentinel, followed by the wire version, its length and
// one byte per fuse ('0' off, '1' on); see @electron/fuses.
const FUSE_SENTINEL = 'dL7pKGdnNz796PbbjQWNKmHXBZaB9tsX';
const FUSES = ['runAsNode', 'enableCookieEncryption', 'enableNodeOptionsEnvironmentVariable', 'enableNodeCliInspectArguments',
  'enableEmbeddedAsarIntegrityValidation', 'onlyLoadAppFromAsar', 'loadBrowserProcessSpecificV8Snapshot', 'grantFileProtocolExtraPrivileges'] as const;

let work: string;
let unpacked: string;
let asarPath: string;
let entries: string[];

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'dimba-pack-'));
  const dist = path.join(work, 'electron-dist');
  mkdirSync(dist);
  // The stand-in "binary" carries a fuse wire with every fuse on, so the test sees which ones
  // the config turns off.
  writeFileSync(
    path.join(dist, 'electron'),
    Buffer.concat([Buffer.from('#!/bin/sh\nexit 0\n'), Buffer.from(FUSE_SENTINEL), Buffer.from([1, FUSES.length]), Buffer.from('1'.repeat(FUSES.length))]),
  );
  chmodSync(path.join(dist, 'electron'), 0o755);
  const result = spawnSync(
    process.execPath,
    [
      path.join(repoRoot, 'node_modules', 'electron-builder', 'cli.js'),
      '--linux', 'dir',
      '--config', 'electron-builder.yml',
      `-c.electronDist=${dist}`,
      `-c.directories.output=${path.join(work, 'out')}`,
    ],
    { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, CI: 'true' } },
  );
  if (result.status !== 0) throw new Error(`electron-builder failed:\n${result.stdout}\n${result.stderr}`);
  unpacked = path.join(work, 'out', 'linux-unpacked');
  asarPath = path.join(unpacked, 'resources', 'app.asar');
  entries = listPackage(asarPath, { isPack: false }).map((entry) => entry.split(path.sep).join('/'));
}, 120_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('electron-builder --linux dir', () => {
  it('names the executable after the product', () => {
    expect(existsSync(path.join(unpacked, 'dimba-studio'))).toBe(true);
  });

  it('puts the built main, preload and renderer in app.asar', () => {
    for (const file of ['/package.json', '/dist/main/app/main.js', '/dist/main/app/preload.cjs', '/dist/main/server/main.js', '/dist/renderer/index.html']) {
      expect(entries, file).toContain(file);
    }
    expect(entries.some((e) => /^\/dist\/renderer\/assets\/index-.*\.js$/.test(e))).toBe(true);
  });

  it('starts from an entry that is inside the archive', () => {
    const pkg = JSON.parse(extractFile(asarPath, 'package.json').toString()) as { main: string };
    expect(entries).toContain(`/${pkg.main}`);
  });

  it('carries the runtime dependencies and leaves sources, tests and dev tools out', () => {
    expect(entries).toContain('/node_modules/zod/package.json');
    expect(entries).toContain('/node_modules/ws/package.json');
    const unwanted = entries.filter((e) =>
      /^\/(main|renderer|test|native|scripts)\//.test(e) || e.endsWith('.map') || e.startsWith('/node_modules/vite/') || e.startsWith('/node_modules/electron/'),
    );
    expect(unwanted).toEqual([]);
  });

  // The addon is built by `npm run build:native` once the engine provides its build script.
  const addonScript = path.join(repoRoot, 'native', 'scripts', 'build-addon.sh');
  it.skipIf(!existsSync(addonScript))(
    `keeps the native addon out of the archive, as a real file${existsSync(addonScript) ? '' : ' (skipped: native/scripts/build-addon.sh does not exist yet)'}`,
    () => {
      const unpackedAddons = entries.filter((e) => e.startsWith('/build/addon/') && e.endsWith('.node'));
      expect(unpackedAddons.length).toBeGreaterThan(0);
      for (const entry of unpackedAddons) {
        expect(existsSync(path.join(unpacked, 'resources', 'app.asar.unpacked', ...entry.split('/')))).toBe(true);
      }
    },
  );

  it('turns off the fuses that would let the binary run as node or load code from outside', () => {
    const binary = readFileSync(path.join(unpacked, 'dimba-studio'));
    const at = binary.indexOf(FUSE_SENTINEL) + FUSE_SENTINEL.length;
    const wire = binary.subarray(at + 2, at + 2 + FUSES.length).toString();
    const state = Object.fromEntries(FUSES.map((name, i) => [name, wire[i] === '1']));
    expect(state).toEqual({
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      loadBrowserProcessSpecificV8Snapshot: false,
      grantFileProtocolExtraPrivileges: false,
    });
  });
});
