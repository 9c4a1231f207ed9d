"""`python -m optbench` behaves like the `optbench` command."""

from optbench.cli import main

main()
