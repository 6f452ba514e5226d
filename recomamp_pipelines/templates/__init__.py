"""The AMC query template library: official templates, typed parameters, rendering."""
