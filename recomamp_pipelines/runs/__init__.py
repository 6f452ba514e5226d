"""Runs of AMC attempts: the weeks of a collection (`weeks`), claimed schedule ticks
(`schedules`), and the recovery of attempts whose run died (`recovery`)."""
