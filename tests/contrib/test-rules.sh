#!/bin/bash
# The alert rules of contrib/prometheus (issue 27 item 3): promtool accepts
# them, and each alert fires on the series that should fire it and stays
# quiet on the others (mcsd-rules-test.yml).
set -euo pipefail
command -v promtool >/dev/null || { echo "promtool (Debian: prometheus) is missing"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
promtool check rules "$here/../../contrib/prometheus/mcsd-rules.yml"
promtool test rules "$here/mcsd-rules-test.yml"
