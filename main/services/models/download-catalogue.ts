// The models the studio offers to download: the reference Dimba release's parts, as data.
// Sizes and hashes are null where they could not be read from the hosting site when this was
// written (these build machines reach no Hugging Face): such a file is verified by size and
// hash only if the catalogue knows them; otherwise its computed SHA-256 is recorded in the
// manifest at download time, so later checks compare against that.
import type { CatalogueEntry } from '../../api/models.js';

const HF = 'https://huggingface.co';

export const DEFAULT_CATALOGUE: readonly CatalogueEntry[] = [
  {
    id: 'dimba-l-512',
    name: 'Dimba-L 512',
    kind: 'dimba',
    description: 'The reference Dimba-L/2 checkpoint for 512 px images (ckpts/dimba-l-512.pt).',
    files: [{ url: `${HF}/feizhengcong/Dimba/resolve/main/dimba-l-512.pt`, path: 'dimba-l-512.pt', bytes: null, sha256: null }],
  },
  {
    id: 't5-v1_1-xxl',
    name: 'T5-v1.1-XXL text encoder',
    kind: 't5',
    description: 'The text encoder Dimba conditions on (ckpts/t5-v1_1-xxl), with its tokenizer.',
    files: [
      { url: `${HF}/DeepFloyd/t5-v1_1-xxl/resolve/main/config.json`, path: 'config.json', bytes: null, sha256: null },
      { url: `${HF}/DeepFloyd/t5-v1_1-xxl/resolve/main/spiece.model`, path: 'spiece.model', bytes: null, sha256: null },
      { url: `${HF}/DeepFloyd/t5-v1_1-xxl/resolve/main/pytorch_model.bin.index.json`, path: 'pytorch_model.bin.index.json', bytes: null, sha256: null },
      { url: `${HF}/DeepFloyd/t5-v1_1-xxl/resolve/main/pytorch_model-00001-of-00002.bin`, path: 'pytorch_model-00001-of-00002.bin', bytes: null, sha256: null },
      { url: `${HF}/DeepFloyd/t5-v1_1-xxl/resolve/main/pytorch_model-00002-of-00002.bin`, path: 'pytorch_model-00002-of-00002.bin', bytes: null, sha256: null },
    ],
  },
  {
    id: 'sdxl-vae',
    name: 'SDXL VAE',
    kind: 'vae',
    description: 'The image decoder (ckpts/vae): the SDXL VAE in diffusers layout.',
    files: [
      { url: `${HF}/stabilityai/sdxl-vae/resolve/main/config.json`, path: 'config.json', bytes: null, sha256: null },
      { url: `${HF}/stabilityai/sdxl-vae/resolve/main/diffusion_pytorch_model.safetensors`, path: 'diffusion_pytorch_model.safetensors', bytes: null, sha256: null },
    ],
  },
];
