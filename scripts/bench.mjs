// `npm run bench`: builds, then prints figures and ratios (no timed assertions).
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { ROOT } from './codeServer.mjs';

execFileSync(process.execPath, [path.join(ROOT, 'esbuild.mjs')], { stdio: 'inherit', cwd: ROOT });
execFileSync(
  process.execPath,
  ['--import', 'tsx', path.join(ROOT, 'scripts', 'bench', 'bench.ts'), ...process.argv.slice(2)],
  { stdio: 'inherit', cwd: ROOT },
);
