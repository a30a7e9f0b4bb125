"""Use cases: one function each, keyword-only arguments, the only place that commits."""
