// The model manager's handlers, registered by handlers.ts.
import type { ModelsService } from '../services/models/models.service.js';
import type { Handler } from './handlers.js';

type ModelMethod =
  | 'models.list'
  | 'models.validate'
  | 'models.register'
  | 'models.remove'
  | 'models.catalogue'
  | 'models.downloads'
  | 'models.download'
  | 'models.cancelDownload'
  | 'models.convert'
  | 'models.cancelConversion';

export function modelHandlers(models: ModelsService): { [M in ModelMethod]: Handler<M> } {
  return {
    'models.list': () => models.list(),
    'models.validate': ({ path }) => models.validate(path),
    'models.register': ({ path, name, kind }) => models.register(path, name, kind),
    'models.remove': async ({ id }) => ({ removed: await models.remove(id) }),
    'models.catalogue': () => models.catalogue(),
    'models.downloads': () => models.downloads(),
    'models.download': ({ catalogueId }) => models.download(catalogueId),
    'models.cancelDownload': ({ catalogueId }) => ({ cancelled: models.cancelDownload(catalogueId) }),
    'models.convert': ({ id }) => models.convert(id),
    'models.cancelConversion': ({ id }) => ({ cancelled: models.cancelConversion(id) }),
  };
}
