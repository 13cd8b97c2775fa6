"""The planner VLM's trainer: configuration, samples, examples, the tiny LLaVA, grounding heads and
the offline evaluation."""
