"""What the benchmarks give the peer scanners: a rule for HesedVid keys only (Kingfisher's rule
file, gitleaks' configuration), so that every tool looks for the same thing and none is timed
running its whole default rule set."""

from __future__ import annotations

# Kingfisher's rule file: the two patterns of rules/hesedvid.toml, without the look-ahead its
# regex engine lacks ("not followed by a letter or digit" becomes "followed by a non-alphanumeric
# byte or the end of the line", which selects the same keys), and no entropy threshold.
KINGFISHER_RULES = """\
rules:
  - name: HesedVid live key
    id: bench.hesedvid.live
    pattern: 'hv_live_([A-Za-z0-9]{32})(?:[^A-Za-z0-9]|$)'
    confidence: medium
    min_entropy: 0
  - name: HesedVid test key
    id: bench.hesedvid.test
    pattern: 'hv_test_([A-Za-z0-9]{32})(?:[^A-Za-z0-9]|$)'
    confidence: medium
    min_entropy: 0
"""

# gitleaks' configuration: one rule, its regex rewritten the same way for RE2, which has no
# look-ahead either; the keywords let gitleaks skip text without them.
GITLEAKS_CONFIG = """\
title = "HesedVid keys only"
[[rules]]
id = "hesedvid-api-key"
description = "HesedVid API key"
regex = '''hv_(?:live|test)_[A-Za-z0-9]{32}(?:[^A-Za-z0-9]|$)'''
keywords = ["hv_live_", "hv_test_"]
"""
