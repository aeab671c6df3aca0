import { afterEach, describe, expect, it } from 'vitest';
import type { GalleryService } from '../../../main/services/gallery/gallery.js';
import { openGallery } from '../../../main/services/gallery/gallery.library.js';
import { startStudioServer, type StudioServer } from '../../../main/server/server.js';
import { httpGet } from '../support/http.js';
import { useTempFolders } from '../support/temp.js';
import { dimbaRecipe, galleryRecipe, generatedPng } from './fixtures.js';

const tempFolder = useTempFolders();
const running: StudioServer[] = [];
const open: GalleryService[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  for (const g of open.splice(0)) g.close();
});

describe('browser mode: library image route', () => {
  it('serves thumbnails and files by uid behind the token, and nothing else', async () => {
    const g = await openGallery({ folder: tempFolder() });
    open.push(g);
    const r = dimbaRecipe();
    const image = await g.saveGenerated({ png: generatedPng(r), recipe: galleryRecipe(r), durationMs: 1 });
    const server = await startStudioServer({
      dispatcher: { dispatch: async () => ({ ok: false, error: { code: 'INTERNAL', message: 'unused' } }) },
      rendererFolder: tempFolder(),
      log: () => {},
      libraryFiles: async (kind, uid) => (kind === 'thumb' ? g.thumbnail(uid) : g.filePath(uid)),
    });
    running.push(server);
    const t = `?token=${server.token}`;
    const thumb = await httpGet(server.port, `/library/thumb/${image.uid}${t}`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers['content-type']).toBe('image/webp');
    const file = await httpGet(server.port, `/library/file/${image.uid}${t}`);
    expect(file.status).toBe(200);
    expect(file.headers['content-type']).toBe('image/png');
    expect((await httpGet(server.port, `/library/thumb/${image.uid}`)).status).toBe(401);
    expect((await httpGet(server.port, `/library/file/${'0'.repeat(32)}${t}`)).status).toBe(404);
    for (const bad of ['/library/file/..%2F..%2Fetc%2Fpasswd', '/library/file/../../etc/passwd', '/library/file/library.db', '/library/']) {
      expect((await httpGet(server.port, `${bad}${t}`)).status).toBe(404);
    }
  });
});
