"""Layer 3, analysis: statistics over replications (confidence intervals), plan verdicts, exact
queueing formulas and calibration targets. Works on tables; imports config and model only."""
