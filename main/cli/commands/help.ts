import { defineCommand, UsageError } from '../command.js';

export default defineCommand({
  name: 'help',
  summary: 'List the commands, or show how to use one',
  usage: '[command]',
  run(args, { out, commands }) {
    if (args.length > 1) throw new UsageError('expects at most one command name');
    const [topic] = args;
    if (topic !== undefined) {
      const command = commands.find((c) => c.name === topic);
      if (!command) throw new UsageError(`no command "${topic}"`);
      out(`dimba ${command.name} ${command.usage}`.trimEnd());
      out(`  ${command.summary}`);
      return 0;
    }
    out('Dimba Studio command line\n\nusage: dimba <command> [args]\n\ncommands:');
    const width = Math.max(...commands.map((c) => c.name.length));
    for (const command of commands) out(`  ${command.name.padEnd(width)}  ${command.summary}`);
    out('\nRun `dimba help <command>` for the arguments of one command.');
    return 0;
  },
});
