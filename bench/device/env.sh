# Source on the lent GPU machine (bench/README.md, "Running on the device"):
#   . bench/device/env.sh
# Only the paths carried by the current call arrive in the checkout, so everything carried
# (.whl/, .gpu/data, .gpu/pNN weight pieces) is first stashed in /tmp/stash, which lasts as
# long as the machine stays warm. Wheels and weights are installed once each, this checkout
# every time (so code edits travel), each into its own --target folder: pip's
# --target --upgrade empties the folder it installs into.
mkdir -p /tmp/stash
for p in .whl .gpu/data .gpu/p0?; do [ -e "$p" ] && cp -r "$p" /tmp/stash/; done
SITE=/tmp/site; MODELS=/tmp/models-site; CODE=/tmp/code-site
export PYTHONPATH="$CODE:$SITE:$MODELS" PATH="$CODE/bin:$PATH" HARNESS_CACHE_DIR=/tmp/harness-cache PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false DATA=/tmp/stash/data
if [ ! -f "$SITE/.done" ] && [ -d /tmp/stash/.whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" /tmp/stash/.whl/*.whl && touch "$SITE/.done"
fi
if [ ! -f "$MODELS/.done" ] && [ -f /tmp/stash/p09 ]; then
  mkdir -p /tmp/wheels && cat /tmp/stash/p0? | tar xf - -C /tmp/wheels
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$MODELS" /tmp/wheels/*.whl && touch "$MODELS/.done"
fi
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --upgrade --target "$CODE" . >/dev/null
ls /tmp/stash | tr '\n' ' '; echo
