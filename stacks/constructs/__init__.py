"""Small constructs the stacks compose: one per logical unit (a bucket, a function, a state machine...)."""
