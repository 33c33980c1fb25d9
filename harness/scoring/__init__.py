"""Kind-agnostic scoring machinery: bootstrap intervals, shared metric arithmetic, per-example
statistics for paired tests, analysis tables and calibration."""
