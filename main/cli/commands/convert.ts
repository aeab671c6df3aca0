// `dimba convert IN.pt [OUT.safetensors]`: a torch.save checkpoint into safetensors (what the
// studio's models.convert does), for the command line. OUT defaults to IN with .safetensors and
// is never overwritten; Ctrl-C cancels and leaves nothing; a hostile or damaged file exits 1 with
// the reason (its code first).
import path from 'node:path';
import { defineCommand, EXIT_OK, UsageError } from '../command.js';
import { ConvertError } from '../../services/models/convert/errors.js';
import { convertPtToSafetensors } from '../../services/models/convert/pt-to-safetensors.js';

export default defineCommand({
  name: 'convert',
  summary: 'Convert a PyTorch checkpoint (.pt/.bin) to safetensors for mmap loading',
  usage: 'IN.pt [OUT.safetensors]',
  async run(args, { out, err }) {
    if (args.length < 1 || args.length > 2) throw new UsageError('takes an input checkpoint and an optional output path');
    const src = path.resolve(args[0]!);
    if (!/\.(pt|pth|bin|ckpt)$/.test(src)) throw new UsageError(`${args[0]} is not a .pt, .pth, .bin or .ckpt file`);
    const dest = path.resolve(args[1] ?? src.replace(/\.[^.]+$/, '.safetensors'));
    if (!dest.endsWith('.safetensors')) throw new UsageError('the output must end in .safetensors');
    const controller = new AbortController();
    const onSigint = () => controller.abort();
    process.once('SIGINT', onSigint);
    let reported = -1;
    try {
      const r = await convertPtToSafetensors(src, dest, {
        signal: controller.signal,
        onProgress: ({ doneBytes, totalBytes }) => {
          const pct = totalBytes > 0 ? Math.floor((doneBytes / totalBytes) * 10) * 10 : 100;
          if (pct !== reported) err(`${pct}%`);
          reported = pct;
        },
      });
      err(`${r.tensors} tensors, ${r.bytes} bytes`);
      out(r.path);
      return EXIT_OK;
    } catch (error) {
      if (error instanceof ConvertError) throw new Error(`${error.code}: ${error.message}`);
      throw error;
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
});
