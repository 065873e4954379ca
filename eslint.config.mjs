import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'node_modules/**', '.cache/**', 'test-results/**', 'models/**', '**/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.mjs'],
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        fetch: 'readonly',
        setTimeout: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
      },
    },
  },
  {
    // The wasm pthread worker is a CommonJS script that Node's worker_threads start as is.
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', URL: 'readonly', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-imports': 'off',
    },
  },
  // Three import zones: shared/ (no vscode, no DOM, no tfjs) is imported by both sides;
  // src/ (extension host, worker, model) and webview/ (the panel's UI) never import each other.
  {
    files: ['shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: 'shared/ runs in the host, the worker and the webview: no vscode here.' }],
          patterns: [
            { group: ['@tensorflow/*'], message: 'shared/ has no tfjs: it is imported by the webview and the host.' },
            {
              group: ['node:*', 'fs', 'path', 'os', 'worker_threads', 'child_process'],
              message: 'shared/ runs in the webview too: no Node built-ins.',
            },
            { group: ['**/src/**', '../src', '../src/*'], message: 'shared/ imports nothing from src/.' },
            {
              group: ['**/webview/**', '../webview', '../webview/*'],
              message: 'shared/ imports nothing from webview/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/model/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/webview/**', '**/webview'],
              message: 'src/ and webview/ never import each other: move what both need to shared/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/model/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: 'src/model runs in plain Node: no vscode here.' }],
          patterns: [
            {
              group: ['**/webview/**', '**/webview'],
              message: 'src/ and webview/ never import each other: move what both need to shared/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['webview/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'vscode', message: 'The webview cannot import vscode.' }],
          patterns: [
            {
              group: ['**/src/**', '**/src'],
              message: 'src/ and webview/ never import each other: move what both need to shared/.',
            },
            { group: ['@tensorflow/*'], message: 'The webview draws; the worker computes.' },
          ],
        },
      ],
    },
  },
);
