"""`python -m registry.bench drive`: one load driver process (spec on stdin, see `drive`)."""

import sys

from .drive import main

if __name__ == "__main__":
    if sys.argv[1:] == ["drive"]:
        main()
    else:
        sys.exit("usage: python -m registry.bench drive < spec.json (use `profile-registry bench`)")
