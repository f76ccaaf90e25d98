#!/bin/sh
# Registers this machine with the appliance: UnifiedAgentConfigurator.sh -i <appliance IP> -P <passphrase file>
# (installed copies live in <prefix>/Vx/bin; this one runs from the unpacked installer too)
here=$(cd "$(dirname "$0")" && pwd)
PYTHONPATH="$here" exec python3 -m agent.cli configure "$@"
