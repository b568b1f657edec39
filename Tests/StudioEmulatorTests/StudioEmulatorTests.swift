// Placeholder; the module's first slice lands next (issue 5).
