"""SQL of the simulator, loaded by name (recomamp_pipelines.simulator.data.load_sql)."""
