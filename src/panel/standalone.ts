// The whole panel as one HTML file that opens offline in any browser: the panel's own script and
// stylesheet inlined, the trace embedded as JSON (tensors base64; past a size, the stage shown and
// the small tensors only, and the page says so), light-theme colour variables.
import { traceToJson } from '../../shared/codec';
import type { Trace } from '../../shared/trace';
import type { Cursor } from '../../shared/protocol';
import { embeddable } from '../../shared/lazy';

/** VS Code's Light Modern and Dark Modern colours for every variable the panel and its vscode-elements controls read. */
const LIGHT = {
  foreground: '#1f1f1f',
  'editor-foreground': '#1f1f1f',
  'editor-background': '#ffffff',
  descriptionForeground: '#5a5a5a',
  'button-background': '#005fb8',
  'button-foreground': '#ffffff',
  'button-hoverBackground': '#0258a8',
  'button-border': '#0000001a',
  'button-secondaryBackground': '#e5e5e5',
  'button-secondaryForeground': '#1f1f1f',
  'button-secondaryHoverBackground': '#cccccc',
  focusBorder: '#005fb8',
  'panel-border': '#d0d0d0',
  'textCodeBlock-background': '#f2f2f2',
  'editorWidget-background': '#f8f8f8',
  'editorWarning-foreground': '#8a6100',
  errorForeground: '#c72e0f',
  'editorError-foreground': '#c72e0f',
  'input-background': '#ffffff',
  'input-foreground': '#1f1f1f',
  'input-border': '#8a8a8a',
  'settings-dropdownBackground': '#ffffff',
  'settings-dropdownForeground': '#1f1f1f',
  'settings-dropdownBorder': '#8a8a8a',
  'settings-dropdownListBorder': '#c8c8c8',
  'list-activeSelectionBackground': '#e8e8e8',
  'list-activeSelectionForeground': '#000000',
  'list-hoverBackground': '#f2f2f2',
  'list-hoverForeground': '#1f1f1f',
  'list-focusOutline': '#005fb8',
  'list-highlightForeground': '#005fb8',
  'list-focusHighlightForeground': '#005fb8',
  'badge-background': '#cccccc',
  'badge-foreground': '#1f1f1f',
  'widget-shadow': '#00000029',
  contrastBorder: '#8a8a8a',
};
const DARK: typeof LIGHT = {
  foreground: '#cccccc',
  'editor-foreground': '#cccccc',
  'editor-background': '#1f1f1f',
  descriptionForeground: '#9d9d9d',
  'button-background': '#0078d4',
  'button-foreground': '#ffffff',
  'button-hoverBackground': '#026ec1',
  'button-border': '#ffffff12',
  'button-secondaryBackground': '#313131',
  'button-secondaryForeground': '#cccccc',
  'button-secondaryHoverBackground': '#3c3c3c',
  focusBorder: '#0078d4',
  'panel-border': '#2b2b2b',
  'textCodeBlock-background': '#2b2b2b',
  'editorWidget-background': '#202020',
  'editorWarning-foreground': '#cca700',
  errorForeground: '#f85149',
  'editorError-foreground': '#f85149',
  'input-background': '#313131',
  'input-foreground': '#cccccc',
  'input-border': '#3c3c3c',
  'settings-dropdownBackground': '#313131',
  'settings-dropdownForeground': '#cccccc',
  'settings-dropdownBorder': '#3c3c3c',
  'settings-dropdownListBorder': '#454545',
  'list-activeSelectionBackground': '#04395e',
  'list-activeSelectionForeground': '#ffffff',
  'list-hoverBackground': '#2a2d2e',
  'list-hoverForeground': '#cccccc',
  'list-focusOutline': '#0078d4',
  'list-highlightForeground': '#2aaaff',
  'list-focusHighlightForeground': '#2aaaff',
  'badge-background': '#616161',
  'badge-foreground': '#f8f8f8',
  'widget-shadow': '#0000005c',
  contrastBorder: '#6b6b6b',
};

const vars = (colours: typeof LIGHT): string =>
  Object.entries(colours)
    .map(([k, v]) => `--vscode-${k}: ${v};`)
    .join(' ');

/**
 * The page follows the reader's colour scheme (no VS Code around it to set the variables): light
 * by default, dark under prefers-color-scheme: dark, every control in the same scheme as the page.
 */
const THEME = `:root { color-scheme: light dark; }
:root, body { ${vars(LIGHT)}
  --vscode-font-family: system-ui, sans-serif; --vscode-font-size: 13px; --vscode-font-weight: normal;
  --vscode-editor-font-family: Menlo, Consolas, monospace; }
@media (prefers-color-scheme: dark) { :root, body { ${vars(DARK)} } }
html, body { background: var(--vscode-editor-background); color: var(--vscode-foreground); }`;

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
