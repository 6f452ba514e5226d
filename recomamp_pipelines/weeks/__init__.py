"""One collection week end to end, starting from the weekly calendar."""
