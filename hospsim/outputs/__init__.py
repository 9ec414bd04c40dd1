"""Layer 5, outputs: what a person reads - terminal tables, figures and the HTML report - made
from a results folder."""
