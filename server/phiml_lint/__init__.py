"""phiml-lint: find ΦML/PhiFlow backend-portability mistakes before the code runs."""

__version__ = "0.1.0"
