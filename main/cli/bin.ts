#!/usr/bin/env node
// `dimba <command> [args]` (installed) or `npm run dimba -- <command> [args]` (from a checkout).
import { loadCommands, runCli } from './registry.js';

const io = {
  out: (text: string) => process.stdout.write(`${text}\n`),
  err: (text: string) => process.stderr.write(`${text}\n`),
};
const code = await runCli(process.argv.slice(2), await loadCommands(), io);
process.exitCode = code;
