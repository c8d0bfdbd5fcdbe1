"""What a study yields: Pareto and trial tables, the output files, exported model folders."""
