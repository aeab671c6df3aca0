// Addresses of library images. Relative, so they resolve against studio://app/ in Electron and
// the browser-mode origin alike; both serve /library/thumb|file/<uid> from the gallery.
export function thumbnailUrl(uid: string): string {
  return `library/thumb/${encodeURIComponent(uid)}`;
}

export function imageFileUrl(uid: string): string {
  return `library/file/${encodeURIComponent(uid)}`;
}
