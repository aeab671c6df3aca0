import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveInside } from '../../../main/server/static-files.js';

const root = path.resolve('/srv/renderer');

describe('resolveInside', () => {
  it('maps / to index.html and paths to files inside the root', () => {
    expect(resolveInside(root, '/')).toBe(path.join(root, 'index.html'));
    expect(resolveInside(root, '/assets/a.js')).toBe(path.join(root, 'assets', 'a.js'));
  });

  it.each(['/../etc/passwd', '/assets/../../etc/passwd', '/%2e%2e/etc/passwd', '/..%2fsecret', '/a%00.js', '/%E0%A4%A'])(
    'refuses %s',
    (probe) => {
      expect(resolveInside(root, probe)).toBeNull();
    },
  );
});
