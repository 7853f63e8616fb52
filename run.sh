#!/usr/bin/env bash
# The README's two commands, on a fresh Debian machine, as root, from a clean clone:
#   bash run.sh demo   set up, then digitize the sample dossiers on the embedded defaults
#   bash run.sh test   set up, then run the tests
# Set-up installs the OS packages that are missing (apt-get), makes .venv and
# installs the project into it. Re-running skips what is already there.
set -euo pipefail
cd "$(dirname "$0")"

APT_PACKAGES=(
  tesseract-ocr tesseract-ocr-vie tesseract-ocr-eng tesseract-ocr-osd
  poppler-utils fonts-liberation2 softhsm2 postgresql gcc libc6-dev
)
# Only for the tests: Apache PDFBox Preflight, an independent PDF/A-1b checker; libfaketime, to move the clock;
# Chromium (headless), to look at the HTML report as a person would.
TEST_APT_PACKAGES=(openjdk-17-jre-headless libpdfbox2-java libactivation-java libjaxb-api-java faketime chromium)
VENV=${VENV:-.venv}

log() { printf '\n==> %s\n' "$*"; }

os_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then missing+=(python3-venv); fi
  command -v python3 >/dev/null || missing+=(python3)
  if ((${#missing[@]})); then
    log "installing OS packages: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then echo "run as root, or install them yourself: apt-get install ${missing[*]}" >&2; exit 1; fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

python_env() {
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
  fi
  if [ ! -f "$VENV/.installed" ] || [ pyproject.toml -nt "$VENV/.installed" ]; then
    log "installing the project and its test stack into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e '.[dev]'
    touch "$VENV/.installed"
  fi
}

# The integer "best" Vietnamese LSTM model (opt-in: ocr.tessdata_dir = "auto"; see bench/README.md),
# from the npm registry package that tesseract.js uses, pinned and checked. Tesseract takes one
# tessdata folder: var/tessdata gets links to the OS package's files (eng, osd, configs, pdf.ttf)
# plus this vie.traineddata. Without npm, set-up still succeeds and OCR uses the OS model.
BEST_VIE_PACKAGE=@tesseract.js-data/vie@1.0.0
BEST_VIE_FILE=package/4.0.0_best_int/vie.traineddata.gz
BEST_VIE_SHA256=112f6fd1d04ab4cb0208cad9cada8de214ae33a1e4db3750ffcda69262aef0a8
TESSDATA_DIR=${TESSDATA_DIR:-var/tessdata}

best_model() {
  if [ -f "$TESSDATA_DIR/vie.traineddata" ] \
     && echo "$BEST_VIE_SHA256  $TESSDATA_DIR/vie.traineddata" | sha256sum -c --status; then
    return 0
  fi
  if ! command -v npm >/dev/null; then
    log "note: npm is not installed: the best_int Vietnamese model (ocr.tessdata_dir = \"auto\") is not installed; OCR uses the OS package model (apt-get install npm, then bash run.sh setup, to add it)"
    return 0
  fi
  local os_dir tmp
  os_dir=$(tesseract --list-langs 2>&1 | sed -n 's/.*in "\(.*\)".*/\1/p' | head -1)
  os_dir=${os_dir%/}
  tmp=$(mktemp -d)
  log "installing the best_int Vietnamese Tesseract model into $TESSDATA_DIR"
  if (cd "$tmp" && timeout 180 npm pack --silent "$BEST_VIE_PACKAGE" >/dev/null 2>&1) \
     && tar -xzf "$tmp"/*.tgz -C "$tmp" "$BEST_VIE_FILE" \
     && gunzip -c "$tmp/$BEST_VIE_FILE" >"$tmp/vie.traineddata" \
     && echo "$BEST_VIE_SHA256  $tmp/vie.traineddata" | sha256sum -c --status \
     && [ -d "$os_dir" ]; then
    rm -rf "$TESSDATA_DIR.new"
    mkdir -p "$TESSDATA_DIR.new"
    for f in "$os_dir"/*; do
      [ "$(basename "$f")" = vie.traineddata ] || ln -s "$f" "$TESSDATA_DIR.new/"
    done
    mv "$tmp/vie.traineddata" "$TESSDATA_DIR.new/vie.traineddata"
    rm -rf "$TESSDATA_DIR"
    mv "$TESSDATA_DIR.new" "$TESSDATA_DIR"
  else
    log "note: could not fetch $BEST_VIE_PACKAGE (or its checksum differs); OCR uses the OS package's Vietnamese model"
  fi
  rm -rf "$tmp"
}

# Tesseract's in-memory line images stored, not deflated, in the page workers' Tesseract readers
# (digitize/native/png_store.c, digitize/tesseract_api.py): the same output for about a fifth less of
# Tesseract's CPU. Without a C compiler the readers run without it.
NATIVE=digitize/native
native() {
  local out=$NATIVE/libpng_store.so
  if [ -f "$out" ] && [ "$out" -nt "$NATIVE/png_store.c" ] && [ "$out" -nt "$NATIVE/png_store.map" ]; then
    return 0
  fi
  if ! command -v cc >/dev/null; then
    log "note: no C compiler (apt-get install gcc libc6-dev): Tesseract runs without $out"
    return 0
  fi
  log "building $out"
  if cc -O2 -shared -fPIC -Wl,--version-script="$NATIVE/png_store.map" -o "$out.new" "$NATIVE/png_store.c" -ldl; then
    mv "$out.new" "$out"
  else
    rm -f "$out.new"
    log "note: could not build $out: Tesseract runs without it"
  fi
}

# No internet on these machines: no telemetry, no analytics.
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false

# Prefect's database, where `digitize run` keeps it (var/prefect unless PREFECT_HOME is set),
# migrated once here so that the first run's server starts without a migration.
prefect_database() {
  local home=${PREFECT_HOME:-$PWD/var/prefect}
  mkdir -p "$home"
  log "preparing Prefect's database in $home"
  PREFECT_HOME=$home "$VENV/bin/prefect" server database upgrade -y >/dev/null
}

demo() {
  log "checking the set-up"
  "$VENV/bin/digitize" doctor
  log "copying the sample dossiers into the scanner folder var/inbox"
  mkdir -p var/inbox
  cp -a samples/inbox/. var/inbox/
  log "digitizing them: OCR, PDF/A, signature, archive, catalog"
  DIGITIZE_INTAKE__SETTLE_SECONDS=0 "$VENV/bin/digitize" run
}

# The message catalogs (digitize/i18n.py): extract the marked messages into the template, bring the
# Vietnamese catalog up to date with it (new messages empty, gone ones dropped), compile it. A developer's
# step after changing messages; the compiled catalog is kept in the repository, tests/test_i18n.py checks it.
LOCALE=digitize/locale
catalogs() {
  python_env
  local babel=("$VENV/bin/pybabel")
  "${babel[@]}" extract -F "$LOCALE/babel.cfg" --no-default-keywords -k _ -k N_ -k ngettext:1,2 \
    --no-location --sort-output --omit-header --no-wrap -o "$LOCALE/digitize.pot" digitize signing storage pipeline rates flows cli
  "${babel[@]}" update -i "$LOCALE/digitize.pot" -d "$LOCALE" -D digitize -l vi \
    --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date --no-wrap --init-missing
  "${babel[@]}" compile -d "$LOCALE" -D digitize -l vi --statistics
}

tests() {
  "$VENV/bin/python" -m pytest "$@"
}

cmd=${1:-}
shift || true
case "$cmd" in
  demo) os_packages "${APT_PACKAGES[@]}"; python_env; native; best_model; prefect_database; demo ;;
  test) os_packages "${APT_PACKAGES[@]}" "${TEST_APT_PACKAGES[@]}"; python_env; native; best_model; tests "$@" ;;
  i18n) catalogs ;;
  setup) os_packages "${APT_PACKAGES[@]}"; python_env; native; best_model; prefect_database ;;
  *) echo "usage: bash run.sh {demo|test|setup|i18n} [pytest args]" >&2; exit 2 ;;
esac
