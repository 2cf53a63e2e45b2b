"""``vbp simulate`` and ``vbp chaos`` (issue #19): a seeded synthetic province driven through
an agreement year over the services' public HTTP APIs with an accelerated clock, the chaos run
around it, and the invariant checker (docs/simulation.md)."""
