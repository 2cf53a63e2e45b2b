"""Orders: agreement volumes, renewals, purchase orders, acceptance, pacing (R-AGR-*)."""
