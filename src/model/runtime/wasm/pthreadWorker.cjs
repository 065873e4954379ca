// One pthread of tfjs-backend-wasm's threaded build, run by Node's worker_threads.
// tfjs ships this worker as a string meant for a browser blob: URL, and hands it the main
// script as a Blob; Node can start neither. backend.ts starts this file instead and passes,
// in workerData, the package's worker module and the factory script to load from disk.
'use strict';
const { workerData } = require('node:worker_threads');
const { factoryPath, workerModulePath } = workerData;
URL.createObjectURL = () => factoryPath;
URL.revokeObjectURL = () => undefined;
// The string holds "\n" escapes that a template literal turned into newlines; restore them as tfjs does.
const source = require(workerModulePath).wasmWorkerContents.replace(/\n/g, '\\n');
new Function('require', '__filename', source)(require, factoryPath);
