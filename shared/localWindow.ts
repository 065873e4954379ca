// Luong et al. (2015)'s local attention window, in words: shared by the what-if maths
// (src/model/attention/whatif.ts) and the panel (webview/components/whatIf.ts). Pure strings.
import type { LocalWindow } from './protocol';

/** The window in short, e.g. "local-m, D = 2, Gaussian σ = 1". */
export function windowText(w: LocalWindow): string {
  return `local-${w.alignment === 'monotonic' ? 'm' : 'p'}, D = ${w.D}${w.gaussian ? `, Gaussian σ = ${w.D / 2}` : ''}`;
}

/** What the window does, said under a what-if result. */
export function windowNote(w: LocalWindow): string {
  const align =
    w.alignment === 'monotonic'
      ? 'local-m aligns each query with its own position, p_t = t'
      : 'local-p predicts the aligned position from the query, p_t = S·sigmoid(v_pᵀ tanh(W_p h_t)), S the number of keys';
  const gauss = w.gaussian
    ? `then multiplied by the Gaussian exp(−(s − p_t)²/(2σ²)), σ = D/2 = ${w.D / 2}, and not renormalised (as Luong et al. define it), so a row sums to less than 1.`
    : 'so each row still sums to 1 over its window (0 where the window holds no allowed key; sigmoid rows need not sum to 1).';
  return (
    `Local attention (Luong et al., 2015): ${align}, and only keys s with |s − p_t| ≤ D = ${w.D} may be attended to; ` +
    `hatched cells are outside the window or masked by the model. The weights are normalised over the window, ${gauss}`
  );
}
