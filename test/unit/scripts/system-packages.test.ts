import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { planSystemPackages, readPackageList } from '../../../scripts/system-packages.mjs';

describe('system packages', () => {
  it('reads one package per line, ignoring comments and blank lines', () => {
    expect(readPackageList('# tools\ncmake   # build\n\n  g++\n#chromium\n')).toEqual(['cmake', 'g++']);
  });

  it('lists the packages the engine and the browser tests need', () => {
    const list = readPackageList(readFileSync(path.resolve('scripts/system-packages.txt'), 'utf8'));
    expect(list).toEqual(expect.arrayContaining(['cmake', 'g++', 'libopenblas-dev', 'nlohmann-json3-dev', 'chromium']));
  });

  const wanted = ['cmake', 'g++', 'chromium'];
  const only = (...present: string[]) => (name: string) => present.includes(name);

  it('does nothing when everything is installed', () => {
    expect(planSystemPackages({ wanted, installed: () => true, isRoot: false, hasApt: false })).toEqual({ action: 'none' });
  });

  it('installs only the missing ones as root with apt', () => {
    expect(planSystemPackages({ wanted, installed: only('g++'), isRoot: true, hasApt: true })).toEqual({
      action: 'install',
      packages: ['cmake', 'chromium'],
    });
  });

  it('otherwise stops with one line naming the packages to install', () => {
    const plan = planSystemPackages({ wanted, installed: only('cmake'), isRoot: false, hasApt: true });
    expect(plan.action).toBe('stop');
    if (plan.action !== 'stop') return;
    expect(plan.message).toBe('missing system packages; install them with: sudo apt-get install -y g++ chromium');
    expect(plan.message).not.toContain('\n');
  });
});
