#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check one reStructuredText file with docutils, failing on any warning.

Usage: rstcheck.py FILE

The kernel's documentation is built with Sphinx, whose directives plain
docutils does not know. The ones our pages use are registered here: toctree
(its entries must name pages next to FILE).
"""

import os
import sys

from docutils.core import publish_file
from docutils.parsers.rst import Directive, directives
from docutils.utils import SystemMessage


class TocTree(Directive):
    """Sphinx's toctree: options accepted, entries checked to exist."""
    has_content = True
    option_spec = {"maxdepth": directives.nonnegative_int, "caption": directives.unchanged}

    def run(self):
        here = os.path.dirname(self.state.document.current_source)
        missing = [e for e in self.content
                   if e.strip() and not os.path.exists(os.path.join(here, e.strip() + ".rst"))]
        if missing:
            return [self.state.document.reporter.warning(
                f"toctree entries without a page: {', '.join(missing)}", line=self.lineno)]
        return []


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    directives.register_directive("toctree", TocTree)
    try:
        publish_file(source_path=sys.argv[1], destination_path=os.devnull,
                     settings_overrides={"halt_level": 2, "report_level": 2, "traceback": False})
    except SystemMessage as e:
        sys.exit(str(e))


if __name__ == "__main__":
    main()
