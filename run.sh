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
  poppler-utils fonts-liberation2 softhsm2 postgresql
)
# Only for the tests: Apache PDFBox Preflight, an independent PDF/A-1b checker; libfaketime, to move the clock.
TEST_APT_PACKAGES=(openjdk-17-jre-headless libpdfbox2-java libactivation-java libjaxb-api-java faketime)
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

tests() {
  "$VENV/bin/python" -m pytest "$@"
}

cmd=${1:-}
shift || true
case "$cmd" in
  demo) os_packages "${APT_PACKAGES[@]}"; python_env; prefect_database; demo ;;
  test) os_packages "${APT_PACKAGES[@]}" "${TEST_APT_PACKAGES[@]}"; python_env; tests "$@" ;;
  setup) os_packages "${APT_PACKAGES[@]}"; python_env; prefect_database ;;
  *) echo "usage: bash run.sh {demo|test|setup} [pytest args]" >&2; exit 2 ;;
esac
