"""Book authoring tools: editions, notebook export, build helpers (not for learners)."""
