#!/usr/bin/env bash
# Kept for old habits: the services now come from scripts/services.sh, which starts
# PostgreSQL with the rest (`eval "$(scripts/services.sh up)"`).
exec "$(dirname "$0")/services.sh" "${@:-up}"
