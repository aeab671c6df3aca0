// Settings kept as one JSON file in the user-data folder.
// - Written atomically (temp file, fsync, rename, fsync of the folder) so a crash mid-write leaves
//   either the old or the new file, never half of one.
// - A file that is not valid JSON or breaks the schema is moved aside (`settings.json.corrupt-<time>`)
//   and the defaults are used: a bad file never stops the studio from starting.
// - Keys from newer versions or removed settings are dropped; missing keys take their default.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import {
  DEFAULT_SETTINGS,
  settingsSchema,
  type Settings,
  type SettingsPatch,
} from '../../api/index.js';
import type { SettingsService } from './settings.js';

export const SETTINGS_FILE_NAME = 'settings.json';

export interface FileSettingsOptions {
  folder: string;
  onChange?: (settings: Settings) => void;
  log?: (message: string) => void;
}

export async function writeFileAtomic(file: string, contents: string): Promise<void> {
  const folder = path.dirname(file);
  await fs.mkdir(folder, { recursive: true });
  const temp = path.join(folder, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  const handle = await fs.open(temp, 'w', 0o600);
  try {
    await handle.writeFile(contents, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(temp, file);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
  // Persist the rename itself; not possible on Windows, where opening a folder fails.
  if (process.platform !== 'win32') {
    const dir = await fs.open(folder, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

/** Reads stored settings leniently: unknown keys dropped, missing or invalid keys defaulted. */
function fromStored(value: unknown): { settings: Settings; clean: boolean } | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const stored = value as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...DEFAULT_SETTINGS };
  let clean = true;
  for (const key of Object.keys(stored)) {
    if (!Object.hasOwn(DEFAULT_SETTINGS, key)) {
      clean = false;
      continue;
    }
    const field = settingsSchema.shape[key as keyof Settings];
    if (field.safeParse(stored[key]).success) merged[key] = stored[key];
    else clean = false;
  }
  const parsed = settingsSchema.safeParse(merged);
  return parsed.success ? { settings: parsed.data, clean } : null;
}

export function createFileSettings(options: FileSettingsOptions): SettingsService {
  const file = path.join(options.folder, SETTINGS_FILE_NAME);
  const log = options.log ?? (() => {});
  let cached: Settings | null = null;
  // Writes are serialised so two quick updates cannot interleave their renames.
  let queue: Promise<unknown> = Promise.resolve();

  async function moveAside(reason: string): Promise<void> {
    const aside = `${file}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    log(`settings: ${reason}; kept the file as ${aside} and using defaults`);
    await fs.rename(file, aside).catch(() => {});
  }

  async function load(): Promise<Settings> {
    if (cached) return cached;
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        cached = { ...DEFAULT_SETTINGS };
        return cached;
      }
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      await moveAside('settings file is not valid JSON');
      cached = { ...DEFAULT_SETTINGS };
      return cached;
    }
    const read = fromStored(json);
    if (!read) {
      await moveAside('settings file is not a settings object');
      cached = { ...DEFAULT_SETTINGS };
      return cached;
    }
    if (!read.clean) log('settings: dropped unknown or invalid keys from the settings file');
    cached = read.settings;
    return cached;
  }

  function enqueue<T>(task: () => Promise<T>): Promise<T> {
    const next = queue.then(task, task);
    queue = next.catch(() => {});
    return next;
  }

  async function save(next: Settings): Promise<Settings> {
    const valid = settingsSchema.parse(next);
    await writeFileAtomic(file, `${JSON.stringify(valid, null, 2)}\n`);
    cached = valid;
    options.onChange?.(valid);
    return valid;
  }

  return {
    get: () => enqueue(load),
    update: (patch: SettingsPatch) =>
      enqueue(async () => {
        const current = await load();
        const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
        return save({ ...current, ...defined });
      }),
    reset: () => enqueue(() => save({ ...DEFAULT_SETTINGS })),
  };
}
