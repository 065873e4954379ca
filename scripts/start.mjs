// `npm start`: build, install code-server if needed, and open a real VS Code on 127.0.0.1 with
// Attention Lens loaded and samples/ open. Ctrl+C stops it.
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT, ensureCodeServer, linkedExtensionsDir, makeProfile, startCodeServer } from './codeServer.mjs';

execFileSync(process.execPath, [path.join(ROOT, 'esbuild.mjs')], { stdio: 'inherit', cwd: ROOT });
ensureCodeServer();
const state = path.join(ROOT, '.cache', 'start');
const port = Number(process.env.PORT ?? 8080);
const server = await startCodeServer({
  port,
  userDataDir: makeProfile(path.join(state, 'user-data')),
  extensionsDir: linkedExtensionsDir(path.join(state, 'extensions')),
});
console.log(
  `\nAttention Lens is running in VS Code at:\n\n  ${server.url}\n\nOpen a sample, select a sentence, right-click → "Visualise attention". Press Ctrl+C to stop.\n`,
);
let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  console.log('\nStopping code-server…');
  server.stop();
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
server.proc.on('exit', (code) => {
  if (!stopping) {
    console.error(`code-server exited (${code}).`);
    process.exit(code ?? 1);
  }
});
