"""JSON Schemas of verisnn's file formats."""
