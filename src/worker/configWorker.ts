// The *.attention.json checker's thread: parses and checks a config's text off the extension host's
// event loop (an 8 MB config takes seconds to parse), for diagnostics and the Visualise command.
// Holds no model and no tfjs: a small bundle that starts in milliseconds.
import { parentPort } from 'node:worker_threads';
import { Channel } from '../../shared/channel';
import { checkAttentionConfig, type CheckedConfig } from '../model/formats/attentionConfig';

export type ConfigWorkerRequest = { readonly kind: 'parse'; readonly text: string };
export interface ConfigWorkerResponses {
  parse: CheckedConfig;
}

const port = parentPort;
if (!port) throw new Error('configWorker.js must run in a worker thread');

const channel = new Channel<never, never, ConfigWorkerRequest, ConfigWorkerResponses>({
  post: (message) => port.postMessage(message),
  handlers: { parse: (request) => checkAttentionConfig(request.text) },
});
port.on('message', (message: unknown) => {
  channel.receive(message);
});
