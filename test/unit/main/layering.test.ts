// The API contract is shared by main, preload, browser transport and renderer, so it may import
// nothing platform-specific; the renderer may not reach node or electron either.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

function sourceFiles(folder: string): string[] {
  return readdirSync(folder, { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.(ts|cts|vue)$/.test(file) && !file.endsWith('.d.ts'))
    .map((file) => path.join(folder, file));
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map(
    (m) => m[1] ?? m[2] ?? '',
  );
}

describe('layering', () => {
  it('main/api imports only zod and its own files', () => {
    const bad = sourceFiles('main/api').flatMap((file) =>
      importsOf(file)
        .filter((spec) => spec !== 'zod' && !spec.startsWith('./'))
        .map((spec) => `${file}: ${spec}`),
    );
    expect(bad).toEqual([]);
  });

  it('the renderer imports neither node nor electron nor main code other than the contract', () => {
    const bad = sourceFiles('renderer').flatMap((file) =>
      importsOf(file)
        .filter((spec) => spec.startsWith('node:') || spec === 'electron' || spec === 'ws' || /\/main\/(?!api)/.test(spec))
        .map((spec) => `${file}: ${spec}`),
    );
    expect(bad).toEqual([]);
  });

  it('services import nothing from electron', () => {
    const bad = sourceFiles('main/services').filter((file) => importsOf(file).includes('electron'));
    expect(bad).toEqual([]);
  });
});
