export * from './errors.js';
export * from './settings.js';
export * from './jobs.js';
export * from './gallery.js';
export * from './models.js';
export * from './tuning.js';
export * from './contract.js';
export * from './wire.js';
export type * from './platform.js';
