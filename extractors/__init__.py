"""Explanations extracted from a model's behaviour (installed as
``verisnn.extractors``): decision-tree rules, automata and attributions."""
