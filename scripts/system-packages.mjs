// The Debian packages the project needs, and what to do about the missing ones.
// Node builtins only (runs before `npm ci`); a pure planner so the decision is testable.

/** Package names from system-packages.txt: one per line, `#` starts a comment. */
export function readPackageList(text) {
  return text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line.length > 0);
}

/**
 * @param {{ wanted: string[], installed: (name: string) => boolean, isRoot: boolean, hasApt: boolean }} facts
 * @returns {{ action: 'none' } | { action: 'install', packages: string[] } | { action: 'stop', packages: string[], message: string }}
 */
export function planSystemPackages({ wanted, installed, isRoot, hasApt }) {
  const missing = wanted.filter((name) => !installed(name));
  if (missing.length === 0) return { action: 'none' };
  if (isRoot && hasApt) return { action: 'install', packages: missing };
  return {
    action: 'stop',
    packages: missing,
    message: `missing system packages; install them with: sudo apt-get install -y ${missing.join(' ')}`,
  };
}
