// Runs the same mocha suites (test/suite) in a desktop VS Code downloaded by @vscode/test-electron.
// Use it where VS Code can be downloaded:  npm run build && npx tsx test/runElectron.ts
// (This machine kind cannot download VS Code; npm test runs the suites in code-server instead.)
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';

async function main(): Promise<void> {
  const root = path.resolve(__dirname, '..');
  await runTests({
    extensionDevelopmentPath: root,
    extensionTestsPath: path.join(root, 'out', 'test', 'suite', 'index.js'),
    launchArgs: [path.join(root, 'samples'), '--disable-extensions', '--disable-workspace-trust'],
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
