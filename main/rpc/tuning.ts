// The tuning handlers, registered by handlers.ts (the service throws ApiErrors itself).
import type { TuningService } from '../services/tuning/tuning.service.js';
import type { Handlers } from './handlers.js';

type TuningMethod = Extract<keyof Handlers, `tuning.${string}`>;

export function tuningHandlers(tuning: () => TuningService): Pick<Handlers, TuningMethod> {
  return {
    'tuning.dataset': ({ source, model }) => tuning().dataset(source, model),
    'tuning.start': ({ source, captions, settings }) => tuning().start(source, captions, settings),
    'tuning.list': () => ({ runs: tuning().list() }),
    'tuning.get': ({ id }) => tuning().get(id),
    'tuning.cancel': ({ id }) => tuning().cancel(id),
    'tuning.resume': ({ id }) => tuning().resume(id),
    'tuning.useCheckpoint': ({ id, step, name }) => tuning().useCheckpoint(id, step, name),
    'tuning.variants': () => ({ variants: tuning().variants() }),
  };
}
