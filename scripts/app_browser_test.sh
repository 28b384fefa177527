#!/usr/bin/env bash
# The browser tests of `infvideo app` (tests/browser, docs/app.md); `make test-app-browser` runs this.
#   1. Debian's chromium + chromium-driver, installed with apt when missing (never a downloaded browser);
#   2. the app extra and Selenium (.[app-test]) into .venv when that changes no torch there (checked with
#      pip's dry run), else into their own venv .venv-app with the CPU torch wheel;
#   3. pytest tests/browser (headless Chromium against the app on loopback).
# --screenshot also writes docs/figures/app_page.png (the README's picture) from the answered page.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
APP_VENV=${APP_VENV:-.venv-app}
screenshot=""
[[ "${1:-}" == "--screenshot" ]] && screenshot="docs/figures/app_page.png"

if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# Would the extra change torch in the main venv? (gradio must not pull another torch: a CUDA build is gigabytes.)
report=$(mktemp)
trap 'rm -f "$report"' EXIT
"$VENV/bin/python" -m pip install --quiet --dry-run --report "$report" -e '.[app-test]'
if "$VENV/bin/python" - "$report" <<'EOF'
import json, sys
names = {item["metadata"]["name"].lower() for item in json.load(open(sys.argv[1]))["install"]}
sys.exit(0 if "torch" in names else 1)
EOF
then
  echo "app extra would change torch in $VENV: using $APP_VENV"
  test -x "$APP_VENV/bin/python" || python3 -m venv "$APP_VENV"
  "$APP_VENV/bin/python" -m pip install --quiet torch==2.13.0
  "$APP_VENV/bin/python" -m pip install --quiet -e '.[dev,app-test]'
  PY="$APP_VENV/bin/python"
else
  "$VENV/bin/python" -m pip install --quiet -e '.[app-test]'
  PY="$VENV/bin/python"
fi

APP_SCREENSHOT=${screenshot:+$PWD/$screenshot} "$PY" -m pytest -q -p no:cacheprovider tests/browser
