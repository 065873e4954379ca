// The whole panel as one HTML file that opens offline in any browser: the panel's own script and
// stylesheet inlined, the trace embedded as JSON (tensors base64; past a size, the stage shown and
// the small tensors only, and the page says so), light-theme colour variables.
import { traceToJson } from '../../shared/codec';
import type { Trace } from '../../shared/trace';
import type { Cursor } from '../../shared/protocol';
import { embeddable } from '../../shared/lazy';

const THEME = `:root, body {
  --vscode-foreground: #1f1f1f; --vscode-editor-foreground: #1f1f1f; --vscode-editor-background: #ffffff;
  --vscode-descriptionForeground: #616161; --vscode-font-family: system-ui, sans-serif; --vscode-font-size: 13px;
  --vscode-editor-font-family: Menlo, Consolas, monospace; --vscode-button-background: #005fb8; --vscode-button-foreground: #fff;
  --vscode-button-secondaryBackground: #e5e5e5; --vscode-button-secondaryForeground: #1f1f1f; --vscode-focusBorder: #005fb8;
  --vscode-panel-border: #d0d0d0; --vscode-textCodeBlock-background: #f2f2f2; --vscode-editorWidget-background: #f8f8f8;
  --vscode-editorWarning-foreground: #bf8803; --vscode-errorForeground: #c72e0f; --vscode-editorError-foreground: #c72e0f;
}`;

/** JSON that is safe inside a <script> element whatever the token text contains. */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export function standaloneHtml(trace: Trace, cursor: Cursor, webviewJs: string, css: string): string {
  const title = `Attention Lens — ${trace.model.name}`.replace(/[<>&"]/g, '');
  // A script body must not contain "</script"; esbuild output does not, but be certain.
  const js = webviewJs.replace(/<\/script/gi, '<\\/script');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data: blob:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>${title}</title>
<style>${THEME}\n${css.replace(/<\/style/gi, '<\\/style')}</style>
</head>
<body data-standalone="true">
<div id="app"></div>
<script>window.ATTENTION_LENS_STANDALONE = ${scriptSafeJson({ trace: traceToJson(embeddable(trace, cursor)), cursor })};</script>
<script>${js}</script>
</body>
</html>`;
}
