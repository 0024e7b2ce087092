"""Interpretations of the one network step as formulas and machines (installed as
``verisnn.encodings``): SMT, CP-SAT and transition systems build on
:mod:`verisnn.semantics` here."""
