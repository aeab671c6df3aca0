// The one place that registers every API handler. The `Handlers` type makes the compiler fail
// when a method of the contract has no handler, or a handler has no method.
import type { MethodName, ResultOf, ValidParamsOf } from '../api/index.js';
import type { Services } from '../services/index.js';
import { galleryHandlers } from './gallery.js';
import { modelHandlers } from './models.js';
import { tuningHandlers } from './tuning.js';

export type Handler<M extends MethodName> = (
  params: ValidParamsOf<M>,
) => Promise<ResultOf<M>> | ResultOf<M>;

export type Handlers = { [M in MethodName]: Handler<M> };

export function createHandlers(services: Services): Handlers {
  return {
    'app.info': () => services.appInfo(),
    'settings.get': () => services.settings.get(),
    'settings.update': (patch) => services.settings.update(patch ?? {}),
    'settings.reset': () => services.settings.reset(),
    'jobs.enqueue': ({ recipe, count }) => services.jobs.enqueue(recipe, count),
    'jobs.list': (params) => services.jobs.list(params ?? {}),
    'jobs.cancel': ({ id }) => services.jobs.cancel(id),
    'jobs.retry': ({ id }) => services.jobs.retry(id),
    'jobs.move': ({ id, before }) => services.jobs.move(id, before),
    'jobs.pause': () => services.jobs.pause(),
    'jobs.resume': () => services.jobs.resume(),
    'engine.backend': async () => services.engine.chooseBackend((await services.settings.get()).backend),
    ...galleryHandlers(() => services.gallery, () => services.jobs),
    ...modelHandlers(services.models),
    ...tuningHandlers(() => services.tuning),
  };
}
