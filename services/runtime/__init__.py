"""What every service runs on: app factory, settings, clock, auth, database, outbox, consumer."""
