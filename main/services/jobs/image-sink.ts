// Where a finished image goes. The gallery service implements it (its save writes the file and
// the row together, and undoes both when either fails); the queue depends only on this.
import type { ImageRecipe } from '../images/recipe-chunks.js';

export interface FinishedImage {
  width: number;
  height: number;
  /** height * width * 3 bytes, RGB. */
  rgb: Uint8Array;
  recipe: ImageRecipe;
  /** Engine time spent on this image (its share of the job), when known. */
  durationMs?: number;
}

export interface ImageSink {
  /** Saves one image atomically (all or nothing) and returns its gallery id. */
  save(image: FinishedImage): Promise<string>;
}
