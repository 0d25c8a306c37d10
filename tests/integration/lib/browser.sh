# browser.sh: what the browser tests (web.sh, web_chat.sh, web_io.sh) need before they start, sourced after CREC and HERE are
# set: skips (exit 77) without Debian's chromium, node, npm or curl, installs playwright-core from npm into the
# build folder on first run (W=BUILD/web-test; skipping with npm's message when that fails, e.g. offline).
if [ ! -x /usr/bin/chromium ]; then echo "skipping: /usr/bin/chromium not installed (CREC_BROWSER_TESTS=1 scripts/bootstrap.sh)"; exit 77; fi
for tool in node npm curl; do
  if ! command -v $tool >/dev/null; then echo "skipping: $tool not installed"; exit 77; fi
done
W=$(dirname "$CREC")/web-test
mkdir -p "$W"
# One install for the three browser tests ctest may start at once: under a lock, and done only when the marker is
# written after npm succeeded (a directory alone may be another test's install half-way: MODULE_NOT_FOUND).
exec 9>"$W/install.lock"
flock 9
if [ ! -f "$W/installed" ]; then
  if ! npm install --prefix "$W" --no-audit --no-fund --loglevel=error playwright-core >"$W/npm.log" 2>&1; then
    flock -u 9
    echo "skipping: npm install playwright-core failed (offline?):"; tail -5 "$W/npm.log"; exit 77
  fi
  touch "$W/installed"
fi
flock -u 9
exec 9>&-
