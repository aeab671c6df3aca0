// The one place that registers every API handler. The `Handlers` type makes the compiler fail
// when a method of the contract has no handler, or a handler has no method.
import type { MethodName, ResultOf, ValidParamsOf } from '../api/index.js';
import type { Services } from '../services/index.js';

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
  };
}
