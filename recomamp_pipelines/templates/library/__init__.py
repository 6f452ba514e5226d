"""The official AMC query templates: one .sql file and one .json definition file each."""
