// The settings a user can change, with their defaults for a fresh install.
import { z } from 'zod';

export const THEMES = ['system', 'light', 'dark'] as const;
export const BACKENDS = ['auto', 'cpu', 'vulkan', 'cuda'] as const;

export const settingsSchema = z
  .object({
    /** Colour scheme of the window. */
    theme: z.enum(THEMES),
    /** Compute backend for the engine; `auto` picks the fastest available. */
    backend: z.enum(BACKENDS),
    /** Folder of the image library; empty = `library/` inside the user-data folder. */
    libraryFolder: z.string().max(4096),
    /** Folder of downloaded models; empty = `models/` inside the user-data folder. */
    modelsFolder: z.string().max(4096),
    /** Sampling steps a new generation starts with. */
    defaultSteps: z.number().int().min(1).max(200),
    /** Classifier-free guidance scale a new generation starts with. */
    defaultGuidance: z.number().min(0).max(30),
    /** Show a preview every N steps while sampling; 0 = no previews. */
    previewEvery: z.number().int().min(0).max(50),
    /** Most memory a loaded model may take, in GiB; 0 = 80% of the machine's memory. */
    memoryLimitGiB: z.number().min(0).max(4096),
    /** The registered model Generate starts with; empty = the built-in model (else the first ready one). */
    defaultModel: z.string().max(200),
    /** Run a job once more when the engine process crashed under it (abort, segfault, OOM kill). */
    retryCrashedJobs: z.boolean(),
  })
  .strict();

export type Settings = z.infer<typeof settingsSchema>;

export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  theme: 'system',
  backend: 'auto',
  libraryFolder: '',
  modelsFolder: '',
  defaultSteps: 20,
  defaultGuidance: 4.5,
  previewEvery: 5,
  memoryLimitGiB: 0,
  defaultModel: '',
  retryCrashedJobs: false,
});

/** A change to some settings; keys not given keep their value. */
export const settingsPatchSchema = settingsSchema.partial().strict();
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;
