/// <reference types="vite/client" />
import type { StudioPlatform } from '@api';

declare global {
  interface Window {
    /** Set by the Electron preload; absent in browser mode. */
    readonly studio?: StudioPlatform;
  }
}


export {};
