// The settings service: what the rest of main relies on, whatever stores the settings.
import type { Settings, SettingsPatch } from '../../api/index.js';

export interface SettingsService {
  get(): Promise<Settings>;
  /** Applies a validated patch, persists it, and returns the new settings. */
  update(patch: SettingsPatch): Promise<Settings>;
  /** Back to the defaults of a fresh install. */
  reset(): Promise<Settings>;
}
