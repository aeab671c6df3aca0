import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultUserDataFolder } from '../../../main/runtime/paths.js';

describe('defaultUserDataFolder', () => {
  it('honours DIMBA_USER_DATA', () => {
    expect(defaultUserDataFolder({ DIMBA_USER_DATA: '/tmp/x' }, 'linux')).toBe(path.resolve('/tmp/x'));
  });

  it('uses XDG_CONFIG_HOME on Linux, as Electron does', () => {
    expect(defaultUserDataFolder({ XDG_CONFIG_HOME: '/cfg' }, 'linux')).toBe(path.join('/cfg', 'Dimba Studio'));
  });

  it('uses APPDATA on Windows', () => {
    expect(defaultUserDataFolder({ APPDATA: 'C:/Users/a/AppData/Roaming' }, 'win32')).toBe(
      path.join('C:/Users/a/AppData/Roaming', 'Dimba Studio'),
    );
  });
});
