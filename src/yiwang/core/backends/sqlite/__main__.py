"""`python -m yiwang.core.backends.sqlite`: the SQLite library in use, exit 1 if it must not be used."""

import sys

from yiwang.core.backends.sqlite import library, library_problem

problem = library_problem()
print(problem or library())
sys.exit(1 if problem else 0)
