// Shared by `npm start` and the end-to-end tests: install (via setup-code-server.sh), link the
// extension, start code-server on 127.0.0.1 and stop it again.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, existsSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CACHE = process.env.ATTENTION_LENS_CACHE ?? path.join(ROOT, '.cache', 'code-server');
export const ENTRY = path.join(CACHE, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
export const EXTENSION_ID = `${pkg.publisher}.${pkg.name}`;

export function ensureCodeServer() {
  execFileSync('bash', [path.join(ROOT, 'scripts', 'setup-code-server.sh')], { stdio: 'inherit' });
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A fresh user-data dir with settings that keep the workbench quiet and predictable. */
export function makeProfile(base, settings = {}) {
  const dir = base ?? mkdtempSync(path.join(os.tmpdir(), 'attention-lens-ud-'));
  mkdirSync(path.join(dir, 'User'), { recursive: true });
  writeFileSync(
    path.join(dir, 'User', 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'security.workspace.trust.enabled': false,
        'telemetry.telemetryLevel': 'off',
        'extensions.autoCheckUpdates': false,
        'extensions.autoUpdate': false,
        'update.mode': 'none',
        'workbench.enableExperiments': false,
        'chat.disableAIFeatures': true,
        'chat.commandCenter.enabled': false,
        'git.openRepositoryInParentFolders': 'never',
        'git.enabled': false,
        ...settings,
      },
      null,
      2,
    ),
  );
  return dir;
}

/** An extensions dir with this repo linked in as the installed extension. */
export function linkedExtensionsDir(base) {
  const dir = base ?? mkdtempSync(path.join(os.tmpdir(), 'attention-lens-ext-'));
  mkdirSync(dir, { recursive: true });
  const link = path.join(dir, `${EXTENSION_ID}-${pkg.version}`);
  if (!existsSync(link)) symlinkSync(ROOT, link, 'dir');
  return dir;
}

export function installVsix(vsix, userDataDir, extensionsDir) {
  execFileSync(
    process.execPath,
    [ENTRY, '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir, '--install-extension', vsix],
    { stdio: 'pipe' },
  );
}

/**
 * Starts code-server and resolves once it answers HTTP. `stop()` kills it (and its children).
 */
export async function startCodeServer({
  port,
  userDataDir,
  extensionsDir,
  folder = path.join(ROOT, 'samples'),
  log = false,
} = {}) {
  port ??= await freePort();
  const args = [
    ENTRY,
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--user-data-dir',
    userDataDir,
    '--extensions-dir',
    extensionsDir,
    folder,
  ];
  const proc = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, VSCODE_PROXY_URI: '' },
  });
  let output = '';
  const onData = (b) => {
    const s = b.toString();
    output += s;
    if (output.length > 2_000_000) output = output.slice(-1_000_000);
    if (log) process.stdout.write(s);
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(folder)}`;
  const stop = () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      try {
        process.kill(-proc.pid, 'SIGTERM');
      } catch {
        proc.kill('SIGTERM');
      }
    }
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`code-server exited with ${proc.exitCode}:\n${output}`);
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      stop();
      throw new Error(`code-server did not start within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return { port, url, proc, stop, output: () => output, folder };
}

export function removeQuietly(dir) {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    /* best effort */
  }
}
