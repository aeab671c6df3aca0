import { defineCommand, UsageError } from '../command.js';
import { studioVersion } from '../../runtime/version.js';

export default defineCommand({
  name: 'version',
  summary: 'Print the studio version',
  usage: '',
  run(args, { out }) {
    if (args.length > 0) throw new UsageError('takes no arguments');
    out(`dimba ${studioVersion()} (node ${process.versions.node}, ${process.platform}-${process.arch})`);
    return 0;
  },
});
