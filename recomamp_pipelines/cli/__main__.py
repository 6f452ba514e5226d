from recomamp_pipelines.cli import main

main()
