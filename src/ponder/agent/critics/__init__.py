"""Critics: what judges a finished chain (the review, the model's yes/no judgement, scorers)."""
