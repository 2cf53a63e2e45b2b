"""Supply: distributors, assignments, routing, delivery, violation list (R-SUP-*)."""
