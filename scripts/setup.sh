#!/usr/bin/env bash
# Create or refresh the project-local virtualenv (.venv) with ssl-video and its dependencies.
# Installs FFmpeg's shared libraries (needed by torchcodec) with apt-get when run as root;
# otherwise says which package to install. Safe to run again: it only reinstalls when
# pyproject.toml changed since the last successful install.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.installed

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "ssl-video needs Python 3.10 or newer; '$PYTHON' is $("$PYTHON" --version 2>&1 || echo missing)." >&2
  echo "Set PYTHON=/path/to/python3.x and run again." >&2
  exit 1
fi

if ! ldconfig -p 2>/dev/null | grep -q 'libavcodec\.so'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing FFmpeg libraries (apt-get install ffmpeg) for torchcodec..."
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
  else
    echo "WARNING: FFmpeg's shared libraries were not found; the torchcodec backend will not work." >&2
    echo "         Install them as root: 'sudo apt-get install ffmpeg' (Debian/Ubuntu)." >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating $VENV with $("$PYTHON" --version)..."
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  echo "Installing ssl-video and its dependencies into $VENV (a few minutes the first time)..."
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[dev]"
  touch "$STAMP"
fi
