import { readFileSync } from 'node:fs';
import path from 'node:path';
import { appRoot } from './paths.js';

/** The studio's version, read from package.json so there is one place to bump it. */
export function studioVersion(): string {
  const pkg: unknown = JSON.parse(readFileSync(path.join(appRoot, 'package.json'), 'utf8'));
  if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') return pkg.version;
  return '0.0.0';
}
