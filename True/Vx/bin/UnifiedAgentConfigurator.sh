#!/bin/sh
PYTHONPATH="$(dirname "$0")/../lib" exec python3 -m agent.cli configure "$@"
