#!/usr/bin/env bash
# benches/zola_compat.sh: builds Zola sites with Zola and with sitegen and compares the outputs
# (pages, titles, h1s, internal links, visible text, redirects, sitemap, feeds).
#
# Usage:
#   benches/zola_compat.sh SITE_DIR [SITE_DIR...] [--json PATH] [--diffs N]
#   benches/zola_compat.sh --list benches/zola-sites.txt --sites-dir DIR [--only NAME]
#
# Environment: ZOLA (default `zola`), SITEGEN (default `sitegen`).
# The sites must already be on disk; see benches/zola-sites.txt for where each comes from.
# All the work is in zola_compat.py (Python 3.11, standard library only).
set -euo pipefail
exec python3 "$(dirname "${BASH_SOURCE[0]}")/zola_compat.py" "$@"
