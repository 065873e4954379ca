#!/usr/bin/env bash
# Installs what the end-to-end tests and `npm start` need, idempotently:
# Debian packages (chromium, ripgrep, libkrb5-dev) and code-server 4.100.3 (VS Code 1.100.3,
# the last line that runs on Node 20) into .cache/code-server, outside the project's node_modules.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${ATTENTION_LENS_CACHE:-$ROOT/.cache/code-server}"
VERSION=4.100.3
ENTRY="$CACHE/node_modules/code-server/out/node/entry.js"
STAMP="$CACHE/.installed-$VERSION"

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v rg >/dev/null 2>&1 || need_apt+=(ripgrep)
[ -e /usr/include/krb5.h ] || [ -e /usr/include/krb5/krb5.h ] || need_apt+=(libkrb5-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "attention-lens: installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [ -f "$STAMP" ] && [ -f "$ENTRY" ]; then
  exit 0
fi
echo "attention-lens: installing code-server $VERSION into $CACHE (once; about a minute)"
rm -rf "$CACHE"
mkdir -p "$CACHE"
cd "$CACHE"
[ -f package.json ] || npm init -y >/dev/null
npm install "code-server@$VERSION" --ignore-scripts --no-audit --no-fund --loglevel=error
npm rebuild argon2 --loglevel=error
cd node_modules/code-server/lib/vscode
npm install --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
mkdir -p node_modules/@vscode/ripgrep/bin
ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
npm_config_yes=true npm rebuild --loglevel=error
cd ../..
npm_config_yes=true npm_config_user_agent="npm/11 node/$(node --version)" npm_config_unsafe_perm=true sh postinstall.sh >/dev/null
touch "$STAMP"
echo "attention-lens: code-server ready"
