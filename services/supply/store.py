"""supply tables (only the runtime tables so far)."""

from services.runtime.db import new_metadata

metadata = new_metadata()
