"""Training and offline evaluation of the planner and the policy (nothing here runs in the nodes)."""
