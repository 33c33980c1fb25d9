"""Running the matrix: tasks x models -> predictions -> scores, executors, suites and fine-tuning."""
