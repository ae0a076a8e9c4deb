"""asv benchmark suite of oocbench (see the README)."""
