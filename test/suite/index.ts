// Entry point for mocha suites inside a real VS Code extension host. Loaded by code-server via the
// extensionTestsPath URL payload (test/e2e/extensionHost.test.ts) and by test/runElectron.ts where
// VS Code can be downloaded. Prints one machine-readable summary line for the outer runner.
import Mocha from 'mocha';

export const SUMMARY_PREFIX = 'ATTENTION_LENS_MOCHA_SUMMARY ';

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', timeout: 120_000, color: false, reporter: 'spec' });
  mocha.suite.emit('pre-require', globalThis, 'suite', mocha);
  // Suites register with the globals mocha just installed; import them after pre-require.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('./extension.suite');
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const stats = runner.stats ?? { passes: 0, failures };
      console.log(`${SUMMARY_PREFIX}${JSON.stringify({ passed: stats.passes, failed: stats.failures })}`);
      if (failures > 0) reject(new Error(`${failures} extension-host test(s) failed`));
      else resolve();
    });
    runner.on('fail', (test, err: Error) =>
      console.log(`ATTENTION_LENS_MOCHA_FAIL ${test.fullTitle()}: ${err.message}`),
    );
    runner.on('pass', (test) => console.log(`ATTENTION_LENS_MOCHA_PASS ${test.fullTitle()}`));
  });
}
