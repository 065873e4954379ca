// A PanelContext for jsdom tests of the panel's parts, on a trace that travels whole (nothing is
// fetched; a fetch is a test failure). Import after jsdom's globals are set: it loads webview code.
import type { PanelContext } from '../../webview/components/part';
import type { Store } from '../../webview/store';

export async function wholeTraceContext(
  store: Store,
  request: PanelContext['request'],
  standalone = false,
): Promise<PanelContext> {
  const { TensorLoader } = await import('../../webview/tensors');
  const { navigator } = await import('../../webview/navigate');
  const none = (): Promise<never> => Promise.reject(new Error('this test’s trace travels whole: nothing to fetch'));
  const loader = new TensorLoader({ tensors: none, thumbnails: none });
  const nav = navigator(store, loader);
  return {
    store,
    navigate: (c) => nav.go(c, 'panel'),
    tensors: loader,
    standalone,
    request,
    exportAs: () => {},
    width: () => 800,
    theme: () => ({ foreground: '#000', font: 'monospace' }),
    builds: new Map(),
  };
}
