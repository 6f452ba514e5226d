"""AMC SQL as Amazon documents it: the table catalogue and the rules AMC's compiler enforces.

One front end for every reader of AMC SQL: the pipeline's template validator and the local
AMC simulator's compiler both parse and check queries here, so that they never disagree on
what AMC accepts. This package imports neither the pipeline nor the simulator.
"""
