// The child side of the utilityProcess stand-in (utility-process.ts): runs the entry module the
// way Electron's utilityProcess does, with `process.parentPort` (messages arrive as
// `{ data }` events, replies go through postMessage) carried here over node's IPC channel.
import { pathToFileURL } from 'node:url';

const [entry, ...args] = process.argv.slice(2);
process.parentPort = {
  on(event, listener) {
    if (event === 'message') process.on('message', (data) => listener({ data }));
  },
  postMessage(message) {
    process.send(message);
  },
};
process.argv = [process.argv[0], entry, ...args];
await import(pathToFileURL(entry).href);
