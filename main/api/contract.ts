// The whole API in one table: every call with its params and result schema, every event with
// its payload schema. Both transports (Electron IPC, WebSocket) and the renderer's client are
// typed from this table, and the main side validates every payload against it.
import { z } from 'zod';
import { settingsPatchSchema, settingsSchema } from './settings.js';
import { jobsEvents, jobsMethods } from './jobs.js';
import { galleryEvents, galleryMethods } from './gallery.js';
import { modelEvents, modelMethods } from './models.js';
import { tuningEvents, tuningMethods } from './tuning.js';

const noParams = z.object({}).strict().optional();

export const appInfoSchema = z.object({
  name: z.string(),
  version: z.string(),
  /** Which shell serves the renderer. */
  mode: z.enum(['electron', 'browser']),
  platform: z.string(),
  userDataFolder: z.string(),
});
export type AppInfo = z.infer<typeof appInfoSchema>;

export const methods = {
  'app.info': { params: noParams, result: appInfoSchema },
  'settings.get': { params: noParams, result: settingsSchema },
  'settings.update': { params: settingsPatchSchema, result: settingsSchema },
  'settings.reset': { params: noParams, result: settingsSchema },
  ...jobsMethods,
  ...galleryMethods,
  ...modelMethods,
  ...tuningMethods,
} as const satisfies Record<string, { params: z.ZodType; result: z.ZodType }>;

export const events = {
  /** Sent to every window after settings were written. */
  onSettingsChanged: settingsSchema,
  ...jobsEvents,
  ...galleryEvents,
  ...modelEvents,
  ...tuningEvents,
} as const satisfies Record<string, z.ZodType>;

export type MethodName = keyof typeof methods;
export type EventName = keyof typeof events;
/** What a caller passes (optional fields may be left out). */
export type ParamsOf<M extends MethodName> = z.input<(typeof methods)[M]['params']>;
/** What a handler receives after validation. */
export type ValidParamsOf<M extends MethodName> = z.output<(typeof methods)[M]['params']>;
export type ResultOf<M extends MethodName> = z.output<(typeof methods)[M]['result']>;
export type PayloadOf<E extends EventName> = z.output<(typeof events)[E]>;

export const METHOD_NAMES = Object.keys(methods) as MethodName[];
export const EVENT_NAMES = Object.keys(events) as EventName[];

export function isMethodName(value: unknown): value is MethodName {
  return typeof value === 'string' && Object.hasOwn(methods, value);
}

export function isEventName(value: unknown): value is EventName {
  return typeof value === 'string' && Object.hasOwn(events, value);
}
