// Bundles: dist/extension.js (node, cjs, vscode external), dist/worker.js (inference worker),
// dist/configWorker.js (the *.attention.json checker's thread),
// dist/cli.js, dist/webview.js (browser), out/test/suite/index.js (mocha suites for the extension host).
// The tfjs wasm binaries (and the threaded build's scripts) are copied into dist/wasm so the packaged .vsix works offline.
import * as esbuild from 'esbuild';
import { cpSync, mkdirSync, existsSync } from 'node:fs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

// In watch mode each rebuild prints a start and an end line, and its errors as `✘ [ERROR] text`
// then `    file:line:column:`, which .vscode/tasks.json's problem matcher reads (F5 waits for the
// first build, and errors land in the Problems view).
const problemMatcher = {
  name: 'problem-matcher',
  setup(build) {
    build.onStart(() => console.log('[watch] build started'));
    build.onEnd((result) => {
      for (const { text, location } of result.errors) {
        console.error(`✘ [ERROR] ${text}`);
        if (location) console.error(`    ${location.file}:${location.line}:${location.column}:`);
      }
      console.log('[watch] build finished');
    });
  },
};

const common = {
  bundle: true,
  sourcemap: !production,
  minify: production,
  logLevel: watch ? 'silent' : 'warning',
  legalComments: 'none',
  plugins: watch ? [problemMatcher] : [],
};
// jsonc-parser's default (UMD) build requires its parts at run time, which a bundle cannot follow.
const alias = { 'jsonc-parser': './node_modules/jsonc-parser/lib/esm/main.js' };
const node = { ...common, platform: 'node', format: 'cjs', target: 'node20', external: ['vscode', 'mocha'], alias };

const configs = [
  { ...node, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' },
  { ...node, entryPoints: ['src/worker/worker.ts'], outfile: 'dist/worker.js' },
  { ...node, entryPoints: ['src/worker/configWorker.ts'], outfile: 'dist/configWorker.js' },
  { ...node, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } },
  {
    ...common,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    entryPoints: ['webview/main.ts'],
    outfile: 'dist/webview.js',
  },
];
if (!production && existsSync('test/suite/index.ts')) {
  configs.push({ ...node, entryPoints: ['test/suite/index.ts'], outfile: 'out/test/suite/index.js' });
}

mkdirSync('dist/wasm', { recursive: true });
for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) {
  cpSync(`node_modules/@tensorflow/tfjs-backend-wasm/dist/${f}`, `dist/wasm/${f}`);
}
// The threaded build's scripts, for the pthreads that let XNNPACK use every core (src/model/backend.ts).
for (const f of ['tfjs-backend-wasm-threaded-simd.js', 'tfjs-backend-wasm-threaded-simd.worker.js']) {
  cpSync(`node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/${f}`, `dist/wasm/${f}`);
}
cpSync('src/model/runtime/wasm/pthreadWorker.cjs', 'dist/wasm/pthreadWorker.cjs');

if (watch) {
  const contexts = await Promise.all(configs.map((c) => esbuild.context(c)));
  await Promise.all(contexts.map((c) => c.watch()));
  console.log('esbuild: watching…');
} else {
  await Promise.all(configs.map((c) => esbuild.build(c)));
  console.log(`esbuild: built ${configs.length} bundles${production ? ' (production)' : ''}`);
}
